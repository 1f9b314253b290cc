import { cast, DisposedError, gather, reshape, ShapeMismatchError, type Tensor, tensor } from '@kvkit/tensor-core';
import type { BlockTableView } from '../paged/block-table.js';
import { type ChunkNode, chunkKey, type PrefixKVTree } from './prefix-tree.js';

/** One step of an append: attach an existing full chunk, or write tokens into a (new) chunk. */
type Step = { kind: 'match'; node: ChunkNode; from: number } | { kind: 'write'; node: ChunkNode | undefined; from: number; count: number };

/**
 * One request's path through a `PrefixKVTree`: the chunks holding its tokens, in order (shared
 * prefix chunks first). A `BlockTableView`, so the paged kernels read it like any paged cache.
 */
export class PrefixSequence implements BlockTableView {
  readonly nodes: ChunkNode[] = [];
  private tokens = 0;
  private released = false;

  constructor(readonly tree: PrefixKVTree) {}

  get pool() {
    return this.tree.pool;
  }

  get kvHeads(): number {
    return this.tree.kvHeads;
  }

  get length(): number {
    return this.tokens;
  }

  headPages(head: number): Int32Array {
    return Int32Array.from(this.nodes, (node) => node.pages[head]);
  }

  headLength(): number {
    return this.tokens;
  }

  /** Tokens of this sequence held in chunks that other sequences also use now. */
  get sharedTokens(): number {
    let n = 0;
    for (const node of this.nodes) if (node.refs > 1) n += node.count;
    return n;
  }

  /** Positions of the held tokens, in order. */
  positions(): Int32Array {
    const out = new Int32Array(this.tokens);
    let at = 0;
    for (const node of this.nodes) {
      out.set(node.positions.subarray(0, node.count), at);
      at += node.count;
    }
    return out;
  }

  /**
   * Attaches the longest run of full chunks already in the tree that continues this sequence with
   * `tokenIds` at `positions` — their K/V need not be computed — and returns how many tokens it
   * attached (a multiple of the chunk size).
   */
  adopt(tokenIds: Int32Array, positions: Int32Array): number {
    this.assertAlive();
    if (positions.length !== tokenIds.length) throw new ShapeMismatchError(`PrefixSequence.adopt: ${positions.length} positions for ${tokenIds.length} tokens`);
    const steps = this.plan(tokenIds, positions, true);
    for (const step of steps) this.attach((step as { node: ChunkNode }).node);
    return steps.length * this.tree.chunkSize;
  }

  /**
   * Appends tokens with their K/V (k, v [kvHeads, n, headDim]): full chunks already in the tree are
   * attached instead of stored again (their K/V here is identical and dropped), the rest is written
   * into this sequence's own chunks. Pages are allocated before anything changes.
   */
  append(k: Tensor, v: Tensor, positions: Int32Array, tokenIds: Int32Array): void {
    this.assertAlive();
    const { pool, kvHeads, chunkSize: C } = this.tree;
    const n = k.shape[1];
    if (k.rank !== 3 || k.shape[0] !== kvHeads || k.shape[2] !== pool.headDim || v.rank !== 3 || v.shape[0] !== kvHeads || v.shape[1] !== n || v.shape[2] !== pool.valueDim) {
      throw new ShapeMismatchError(`PrefixSequence.append: k [${k.shape.join(', ')}] and v [${v.shape.join(', ')}] must be [${kvHeads}, n, ${pool.headDim}]`);
    }
    if (positions.length !== n || tokenIds.length !== n) throw new ShapeMismatchError(`PrefixSequence.append: ${n} tokens need ${n} positions and token ids`);
    if (n === 0) return;
    const steps = this.plan(tokenIds, positions, false);
    const fresh = steps.filter((s) => s.kind === 'write' && s.node === undefined).length;
    const pages = pool.allocate(fresh * kvHeads);
    // Pair every write with its chunk (new chunks get their pages now, but join the tree only on commit).
    const writes: { node: ChunkNode; isNew: boolean; from: number; count: number }[] = [];
    let tail = this.nodes.at(-1) ?? this.tree.root;
    let made = 0;
    for (const step of steps) {
      if (step.kind === 'match') {
        tail = step.node;
        continue;
      }
      const isNew = step.node === undefined;
      const node = step.node ?? this.tree.createChunk(tail, pages.slice(made * kvHeads, ++made * kvHeads));
      writes.push({ node, isNew, from: step.from, count: step.count });
      tail = node;
    }
    const w = writes.reduce((a, x) => a + x.count, 0);
    const slots = new Int32Array(kvHeads * w);
    const headPos = new Int32Array(kvHeads * w);
    const written = new Int32Array(w);
    let at = 0;
    for (const { node, from, count } of writes) {
      for (let i = 0; i < count; i++, at++) {
        written[at] = from + i;
        for (let h = 0; h < kvHeads; h++) {
          slots[h * w + at] = node.pages[h] * C + node.count + i;
          headPos[h * w + at] = positions[from + i];
        }
      }
    }
    const temps: Tensor[] = [];
    const keep = <T extends Tensor>(t: T): T => {
      temps.push(t);
      return t;
    };
    try {
      const rows = (x: Tensor, dim: number) => {
        let y = x.dtype === pool.dtype ? x : keep(cast(x, pool.dtype));
        if (w < n) y = keep(gather(y, keep(tensor(written, [w], { dtype: 'i32', backend: pool.backend })), 1));
        return keep(reshape(y, [kvHeads * w, dim]));
      };
      if (w > 0) {
        pool.write(
          rows(k, pool.headDim),
          rows(v, pool.valueDim),
          keep(tensor(headPos, [headPos.length], { dtype: 'i32', backend: pool.backend })),
          keep(tensor(slots, [slots.length], { dtype: 'i32', backend: pool.backend })),
        );
      }
    } catch (error) {
      for (const x of writes) if (x.isNew) this.tree.discardChunk(x.node);
      throw error;
    } finally {
      for (const t of temps) t.dispose();
    }
    // Commit: attach matched chunks, fill written ones, index chunks that became full.
    let next = 0;
    for (const step of steps) {
      if (step.kind === 'match') {
        this.attach(step.node);
        continue;
      }
      const { node, isNew, from, count } = writes[next++];
      node.tokens.set(tokenIds.subarray(from, from + count), node.count);
      node.positions.set(positions.subarray(from, from + count), node.count);
      node.count += count;
      this.tokens += count;
      if (isNew) {
        node.refs = 1;
        this.nodes.push(node);
      }
      if (node.count === C) this.tree.index(node);
    }
  }

  /** Gives every chunk reference back; chunks no other sequence uses are freed. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (let i = this.nodes.length - 1; i >= 0; i--) this.tree.unref(this.nodes[i]);
    this.nodes.length = 0;
    this.tokens = 0;
  }

  /**
   * The steps that would append `tokenIds`: while the path ends on a full chunk and a whole chunk
   * of input remains, a matching child chunk is attached; otherwise tokens fill the sequence's own
   * partly filled last chunk, then new chunks. With `matchOnly`, planning stops at the first write.
   */
  private plan(tokenIds: Int32Array, positions: Int32Array, matchOnly: boolean): Step[] {
    const C = this.tree.chunkSize;
    const steps: Step[] = [];
    const last = this.nodes.at(-1);
    let tail: ChunkNode | undefined = last ?? this.tree.root; // undefined once a new chunk is planned
    let tailCount = last ? last.count : C;
    for (let t = 0; t < tokenIds.length; ) {
      const left = tokenIds.length - t;
      if (tail && tailCount === C && left >= C) {
        const child = tail.children.get(chunkKey(tokenIds.subarray(t, t + C), positions.subarray(t, t + C)));
        if (child) {
          steps.push({ kind: 'match', node: child, from: t });
          tail = child;
          t += C;
          continue;
        }
      }
      if (matchOnly) break;
      const count = Math.min(tail && tailCount < C ? C - tailCount : C, left);
      if (tail && tailCount < C) {
        steps.push({ kind: 'write', node: tail, from: t, count }); // own partly filled chunk (never shared)
        tailCount += count;
      } else {
        steps.push({ kind: 'write', node: undefined, from: t, count });
        tail = undefined;
        tailCount = count;
      }
      t += count;
    }
    return steps;
  }

  private attach(node: ChunkNode): void {
    node.refs += 1;
    this.nodes.push(node);
    this.tokens += node.count;
  }

  private assertAlive(): void {
    if (this.released) throw new DisposedError('PrefixSequence');
  }
}
