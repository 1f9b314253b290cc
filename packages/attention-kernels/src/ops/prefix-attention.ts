import { InvalidConfigError, runKernel, ShapeMismatchError, type Tensor } from '@kvkit/tensor-core';
import { ensureAttentionKernels } from '../kernels.js';
import type { ChunkNode } from '../prefix/prefix-tree.js';
import type { PrefixSequence } from '../prefix/prefix-sequence.js';
import type { AttentionMask } from '@kvkit/tensor-core';
import type { KernelResult } from './attention-types.js';
import { assertFloatTensor, assertGroups, assertShape, positiveInteger, resolveKernelAttrs, withTemporaries } from './validate.js';

export interface PrefixSharedAttentionOptions extends AttentionMask {
  /** i32 [batch, m]: positions of the queries (required). */
  queryPositions: Tensor | Int32Array;
  returnLse?: boolean;
  tileSize?: number;
}

/**
 * Two-phase decode (ChunkAttention) for a batch of sequences of one `PrefixKVTree`: q
 * [batch, qHeads, m, d] → [batch, qHeads, m, dv]. Chunks used by more than one sequence of the batch
 * are read once per KV head for all of them (chunk-first), then each sequence reads its own chunks
 * (sequence-first), and the partial results merge by log-sum-exp. Statistics are not produced here
 * (a shared chunk cannot be evicted for one request); use `pagedAttention` on one sequence for them.
 */
export function prefixSharedAttention(q: Tensor, sequences: readonly PrefixSequence[], options: PrefixSharedAttentionOptions): KernelResult {
  const where = 'prefixSharedAttention';
  assertFloatTensor(q, where, 'q');
  assertShape(q, 4, where, 'q', '[batch, qHeads, m, headDim]');
  const [batch, qHeads, m, d] = q.shape;
  if (sequences.length !== batch || batch === 0) throw new ShapeMismatchError(`${where}: ${sequences.length} sequences for a batch of ${batch}`);
  const tree = sequences[0].tree;
  if (sequences.some((s) => s.tree !== tree)) throw new InvalidConfigError(`${where}: all sequences must belong to one prefix tree`);
  const { kvHeads, pool } = tree;
  if (d !== pool.headDim) throw new ShapeMismatchError(`${where}: q has head dim ${d} but the tree holds ${pool.headDim}`);
  assertGroups(qHeads, kvHeads, where);
  if (options?.queryPositions === undefined) throw new InvalidConfigError(`${where}: queryPositions are required`);
  if ('statistics' in options && (options as { statistics?: unknown }).statistics) {
    throw new InvalidConfigError(`${where}: statistics are not available from the two-phase kernel; use pagedAttention on one sequence`);
  }
  const attrs = resolveKernelAttrs({ ...options, tileSize: positiveInteger(options.tileSize, 64, where, 'tileSize') }, d, where);
  // Chunks used by several sequences of this batch: a prefix of every path that contains them.
  const usersOf = new Map<ChunkNode, number[]>();
  sequences.forEach((s, b) => {
    for (const node of s.nodes) usersOf.set(node, [...(usersOf.get(node) ?? []), b]);
  });
  // Their ancestors are shared too, so a request's shared chunks are the first ones of its path and
  // chunk c sits at the same depth in every path through it.
  const sharedChunks = [...usersOf.entries()].filter(([, u]) => u.length > 1);
  const chunkPages = new Int32Array(sharedChunks.length * kvHeads);
  const chunkCounts = new Int32Array(sharedChunks.length);
  const chunkDepths = new Int32Array(sharedChunks.length);
  const usersIndptr = new Int32Array(sharedChunks.length + 1);
  const users: number[] = [];
  sharedChunks.forEach(([node, u], c) => {
    chunkPages.set(node.pages, c * kvHeads);
    chunkCounts[c] = node.count;
    chunkDepths[c] = sequences[u[0]].nodes.indexOf(node);
    users.push(...u);
    usersIndptr[c + 1] = users.length;
  });
  const own = sequences.map((s) => s.nodes.filter((node) => (usersOf.get(node)?.length ?? 0) === 1));
  const maxOwn = Math.max(1, ...own.map((o) => o.length));
  const ownTable = new Int32Array(batch * kvHeads * maxOwn);
  const ownLengths = new Int32Array(batch);
  const ownStart = Int32Array.from(sequences, (s, b) => s.nodes.length - own[b].length);
  own.forEach((nodes, b) => {
    nodes.forEach((node, p) => {
      for (let h = 0; h < kvHeads; h++) ownTable[(b * kvHeads + h) * maxOwn + p] = node.pages[h];
      ownLengths[b] += node.count;
    });
  });
  // Partial states per query row a GPU kernel keeps: one per chunk of the longest path.
  const slots = Math.max(1, ...sequences.map((s) => s.nodes.length));
  let maxUsers = 1;
  for (let c = 0; c < sharedChunks.length; c++) maxUsers = Math.max(maxUsers, usersIndptr[c + 1] - usersIndptr[c]);
  ensureAttentionKernels(q.backend);
  return withTemporaries(q.backend, (temps) => {
    const qPos = temps.positions(options.queryPositions, [batch, m], 0, where, 'queryPositions');
    const { keys, values, positions } = pool.storage();
    return runKernel(
      'prefixSharedAttention',
      [
        q,
        keys,
        values,
        positions,
        qPos,
        temps.ints(chunkPages, [sharedChunks.length, kvHeads]),
        temps.ints(chunkCounts, [sharedChunks.length]),
        temps.ints(usersIndptr, [sharedChunks.length + 1]),
        temps.ints(Int32Array.from(users), [users.length]),
        temps.ints(ownTable, [batch, kvHeads, maxOwn]),
        temps.ints(ownLengths, [batch]),
        temps.ints(chunkDepths, [sharedChunks.length]),
        temps.ints(ownStart, [batch]),
      ],
      { ...attrs, maxUsers, slots },
    );
  });
}
