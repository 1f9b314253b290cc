import {
  cast,
  DisposedError,
  IndexOutOfRangeError,
  InvalidConfigError,
  reshape,
  ShapeMismatchError,
  type Tensor,
  tensor,
} from '@kvkit/tensor-core';
import { type BlockTableView, ensureCapacity } from './block-table.js';
import type { PagedKVPool } from './page-pool.js';

/**
 * The block tables of one request (one layer): per KV head, the pool pages holding its tokens, its
 * length, and a host copy of its token positions. Appends allocate pages as heads fill up;
 * `retain` compacts a head to the tokens it keeps and frees the pages it no longer needs.
 */
export class PagedSequence implements BlockTableView {
  private readonly pages: number[][];
  private readonly lengths: Int32Array;
  private positions: Int32Array[];
  private released = false;

  constructor(
    readonly pool: PagedKVPool,
    readonly kvHeads: number,
  ) {
    if (!Number.isInteger(kvHeads) || kvHeads < 1) throw new InvalidConfigError(`PagedSequence: kvHeads must be a positive integer, got ${kvHeads}`);
    this.pages = Array.from({ length: kvHeads }, () => []);
    this.lengths = new Int32Array(kvHeads);
    this.positions = Array.from({ length: kvHeads }, () => new Int32Array(0));
  }

  headPages(head: number): readonly number[] {
    return this.pages[this.checkHead(head)];
  }

  headLength(head: number): number {
    return this.lengths[this.checkHead(head)];
  }

  /** Tokens of each head. */
  headLengths(): Int32Array {
    return this.lengths.slice();
  }

  /** Absolute positions of head `head`'s tokens, in storage order. */
  headPositions(head: number): Int32Array {
    return this.positions[this.checkHead(head)].slice(0, this.lengths[head]);
  }

  /** Pages held by all heads. */
  get pageCount(): number {
    return this.pages.reduce((a, p) => a + p.length, 0);
  }

  /** Tokens held by all heads together. */
  get tokenCount(): number {
    return this.lengths.reduce((a, b) => a + b, 0);
  }

  /**
   * Appends n tokens to every head: k [kvHeads, n, headDim], v [kvHeads, n, valueDim], positions
   * (length n). All pages needed are allocated first: if the pool is exhausted nothing changes.
   */
  append(k: Tensor, v: Tensor, positions: Int32Array): void {
    this.assertAlive();
    const { pool, kvHeads } = this;
    const n = k.shape[1];
    if (k.rank !== 3 || k.shape[0] !== kvHeads || k.shape[2] !== pool.headDim || v.rank !== 3 || v.shape[0] !== kvHeads || v.shape[1] !== n || v.shape[2] !== pool.valueDim) {
      throw new ShapeMismatchError(
        `PagedSequence.append: k [${k.shape.join(', ')}] and v [${v.shape.join(', ')}] must be [${kvHeads}, n, ${pool.headDim}] and [${kvHeads}, n, ${pool.valueDim}]`,
      );
    }
    if (positions.length !== n) throw new ShapeMismatchError(`PagedSequence.append: ${positions.length} positions for ${n} tokens`);
    if (n === 0) return;
    const P = pool.pageSize;
    const needed = this.lengths.reduce((acc, len, h) => acc + Math.ceil((len + n) / P) - this.pages[h].length, 0);
    const fresh = pool.allocate(needed);
    const slots = new Int32Array(kvHeads * n);
    const headPos = new Int32Array(kvHeads * n);
    let next = 0;
    const newPages = this.pages.map((pages, h) => {
      const grown = [...pages];
      while (grown.length * P < this.lengths[h] + n) grown.push(fresh[next++]);
      for (let t = 0; t < n; t++) {
        const at = this.lengths[h] + t;
        slots[h * n + t] = grown[Math.floor(at / P)] * P + (at % P);
        headPos[h * n + t] = positions[t];
      }
      return grown;
    });
    const temps: Tensor[] = [];
    try {
      const kRows = reshape(k.dtype === pool.dtype ? k : track(temps, cast(k, pool.dtype)), [kvHeads * n, pool.headDim]);
      // Values that are the keys are not written (the pool's value pages are the key pages).
      const vRows = pool.valuesAreKeys ? kRows : reshape(v.dtype === pool.dtype ? v : track(temps, cast(v, pool.dtype)), [kvHeads * n, pool.valueDim]);
      temps.push(kRows);
      if (vRows !== kRows) temps.push(vRows);
      const posT = track(temps, tensor(headPos, [kvHeads * n], { dtype: 'i32', backend: pool.backend }));
      const slotT = track(temps, tensor(slots, [kvHeads * n], { dtype: 'i32', backend: pool.backend }));
      pool.write(kRows, vRows, posT, slotT);
    } catch (error) {
      pool.release(fresh);
      throw error;
    } finally {
      for (const t of temps) t.dispose();
    }
    for (let h = 0; h < kvHeads; h++) {
      this.pages[h] = newPages[h];
      this.positions[h] = ensureCapacity(this.positions[h], this.lengths[h] + n, this.lengths[h]);
      this.positions[h].set(positions, this.lengths[h]);
      this.lengths[h] += n;
    }
  }

  /**
   * Keeps only the tokens at storage indices `keep` (strictly increasing, each < the head's
   * length) of head `head`, in that order; the pages past the new length go back to the pool.
   * On a bad index nothing changes.
   */
  retain(head: number, keep: Int32Array): void {
    this.assertAlive();
    this.checkHead(head);
    assertKeepIndices(keep, this.lengths[head], `PagedSequence.retain (head ${head})`);
    const P = this.pool.pageSize;
    const pages = this.pages[head];
    const from: number[] = [];
    const to: number[] = [];
    for (let i = 0; i < keep.length; i++) {
      if (keep[i] === i) continue;
      from.push(pages[Math.floor(keep[i] / P)] * P + (keep[i] % P));
      to.push(pages[Math.floor(i / P)] * P + (i % P));
    }
    if (from.length > 0) {
      const fromT = tensor(Int32Array.from(from), [from.length], { dtype: 'i32', backend: this.pool.backend });
      const toT = tensor(Int32Array.from(to), [to.length], { dtype: 'i32', backend: this.pool.backend });
      try {
        this.pool.move(fromT, toT);
      } finally {
        fromT.dispose();
        toT.dispose();
      }
    }
    const positions = this.positions[head];
    for (let i = 0; i < keep.length; i++) positions[i] = positions[keep[i]];
    const pagesNeeded = Math.ceil(keep.length / P);
    const dropped = pages.splice(pagesNeeded);
    this.lengths[head] = keep.length;
    if (dropped.length > 0) this.pool.release(dropped);
  }

  /** Returns every page to the pool; the sequence is unusable afterwards. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const all = this.pages.flat();
    if (all.length > 0 && !this.pool.isDisposed) this.pool.release(all);
    for (const p of this.pages) p.length = 0;
    this.lengths.fill(0);
  }

  private checkHead(head: number): number {
    if (!Number.isInteger(head) || head < 0 || head >= this.kvHeads) {
      throw new IndexOutOfRangeError(`PagedSequence: head ${head} is not in [0, ${this.kvHeads})`, { head });
    }
    return head;
  }

  private assertAlive(): void {
    if (this.released) throw new DisposedError('PagedSequence');
  }
}

/** Refuses anything but strictly increasing storage indices in [0, length) (IndexOutOfRangeError). */
export function assertKeepIndices(keep: Int32Array, length: number, where: string): void {
  for (let i = 0; i < keep.length; i++) {
    if (keep[i] < 0 || keep[i] >= length || (i > 0 && keep[i] <= keep[i - 1])) {
      throw new IndexOutOfRangeError(`${where}: keep must be strictly increasing indices in [0, ${length}); entry ${i} is ${keep[i]}`, { index: i, value: keep[i] });
    }
  }
}

function track(list: Tensor[], t: Tensor): Tensor {
  list.push(t);
  return t;
}
