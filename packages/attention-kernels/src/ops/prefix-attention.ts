import { InvalidConfigError, runKernel, ShapeMismatchError, type Tensor } from '@kvkit/tensor-core';
import { ensureAttentionKernels } from '../kernels.js';
import type { ChunkNode } from '../prefix/prefix-tree.js';
import type { PrefixSequence } from '../prefix/prefix-sequence.js';
import { packBlockTables } from '../paged/block-table.js';
import type { KernelOptions, KernelResult } from './attention-types.js';
import { assertFloatTensor, assertGroups, assertShape, checkStatisticsFor, resolveKernelAttrs, withTemporaries } from './validate.js';

/** Tokens of shared chunks a GPU block reads at most (a split-K partition's size). */
const SHARED_RUN_TOKENS = 512;

export interface PrefixSharedAttentionOptions extends KernelOptions {
  /** i32 [batch, m]: positions of the queries (required). */
  queryPositions: Tensor | Int32Array;
}

/**
 * Two-phase decode (ChunkAttention) for a batch of sequences of one `PrefixKVTree`: q
 * [batch, qHeads, m, d] → [batch, qHeads, m, dv]. Chunks used by more than one sequence of the batch
 * are read once per KV head for all of them (chunk-first), then each sequence reads its own chunks
 * (sequence-first), and the partial results merge by log-sum-exp. Statistics are those of
 * `batchedPagedAttention` over the same sequences: [batch, qHeads, L] (queryCount [batch, kvHeads, L])
 * with L the longest sequence, key j of request b being the j-th token of its path — a shared chunk's
 * keys appear in the statistics of every request of the batch that attends them.
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
  const attrs = resolveKernelAttrs(options, d, where);
  checkStatisticsFor(attrs.statistics, m, where);
  // Chunks used by several sequences of this batch: a prefix of every path that contains them.
  const usersOf = new Map<ChunkNode, number[]>();
  sequences.forEach((s, b) => {
    for (const node of s.nodes) usersOf.set(node, [...(usersOf.get(node) ?? []), b]);
  });
  // Their ancestors are shared too, so a request's shared chunks are the first ones of its path.
  // GPU kernels read them in runs: consecutive chunks of a path with the same users, up to
  // SHARED_RUN_TOKENS tokens (cut greedily from the root, so every user of a run sees the same
  // runs before it and the run has one partial-state slot for all of them: its index on the path).
  const maxRun = Math.max(1, Math.floor(SHARED_RUN_TOKENS / tree.chunkSize));
  const runs: { nodes: ChunkNode[]; users: number[]; slot: number }[] = [];
  const runOf = new Map<ChunkNode, number>();
  const ownStart = new Int32Array(batch);
  sequences.forEach((s, b) => {
    let current: number | undefined;
    for (const node of s.nodes) {
      const u = usersOf.get(node) as number[];
      if (u.length < 2) break;
      let r = runOf.get(node);
      if (r === undefined) {
        const prev = current === undefined ? undefined : runs[current];
        if (prev && prev.users.length === u.length && prev.users.every((x, i) => x === u[i]) && prev.nodes.length < maxRun && prev.nodes[prev.nodes.length - 1] === node.parent) {
          prev.nodes.push(node);
          r = current as number;
        } else {
          r = runs.push({ nodes: [node], users: u, slot: current === undefined ? 0 : runs[current].slot + 1 }) - 1;
        }
        runOf.set(node, r);
      }
      current = r;
    }
    ownStart[b] = current === undefined ? 0 : runs[current].slot + 1;
  });
  const sharedChunks = runs.flatMap((r) => r.nodes);
  const chunkPages = new Int32Array(sharedChunks.length * kvHeads);
  const chunkCounts = new Int32Array(sharedChunks.length);
  const usersIndptr = new Int32Array(sharedChunks.length + 1);
  const users: number[] = [];
  sharedChunks.forEach((node, c) => {
    chunkPages.set(node.pages, c * kvHeads);
    chunkCounts[c] = node.count;
    users.push(...(usersOf.get(node) as number[]));
    usersIndptr[c + 1] = users.length;
  });
  const runStarts = new Int32Array(runs.length + 1);
  runs.forEach((r, i) => (runStarts[i + 1] = runStarts[i] + r.nodes.length));
  const runSlots = Int32Array.from(runs, (r) => r.slot);
  const own = sequences.map((s) => s.nodes.filter((node) => (usersOf.get(node)?.length ?? 0) === 1));
  const maxOwn = Math.max(1, ...own.map((o) => o.length));
  const ownTable = new Int32Array(batch * kvHeads * maxOwn);
  const ownLengths = new Int32Array(batch);
  own.forEach((nodes, b) => {
    nodes.forEach((node, p) => {
      for (let h = 0; h < kvHeads; h++) ownTable[(b * kvHeads + h) * maxOwn + p] = node.pages[h];
      ownLengths[b] += node.count;
    });
  });
  // Partial states per query row a GPU kernel keeps: one per run, then one per group of own chunks.
  const ownPagesPerSlot = maxRun;
  const slots = Math.max(1, ...own.map((nodes, b) => ownStart[b] + Math.ceil(nodes.length / ownPagesPerSlot)));
  const maxUsers = Math.max(1, ...runs.map((r) => r.users.length));
  // Statistics need each row's final normalizer, known after the merge: a second pass (the paged
  // kernel's) then reads every request's whole path through its block table.
  const paths = attrs.statistics.enabled ? packBlockTables(sequences, kvHeads) : undefined;
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
        temps.ints(runStarts, [runs.length + 1]),
        temps.ints(runSlots, [runs.length]),
        temps.ints(ownStart, [batch]),
        ...(paths ? [temps.ints(paths.pages, [batch, kvHeads, paths.maxPages]), temps.ints(paths.lengths, [batch, kvHeads])] : []),
      ],
      { ...attrs, maxUsers, slots, ownPagesPerSlot, maxLength: paths?.maxLength ?? 0 },
    );
  });
}
