import { InvalidConfigError, reshape, runKernel, ShapeMismatchError, type Tensor } from '@kvkit/tensor-core';
import { ensureAttentionKernels } from '../kernels.js';
import { type BlockTableView, packBlockTables } from '../paged/block-table.js';
import type { KernelOptions, KernelResult } from './attention-types.js';
import { assertFloatTensor, assertGroups, assertShape, checkStatisticsFor, positiveInteger, resolveKernelAttrs, withTemporaries } from './validate.js';

export interface PagedAttentionOptions extends KernelOptions {
  /**
   * Positions of the queries (i32, [m]; batched: [batch, m]) — required: each head of a paged cache
   * keeps its own tokens, so "the last m positions" is not defined.
   */
  queryPositions: Tensor | Int32Array;
  /** Queries per block when m is large (prefill through the paged cache; default 32). */
  queryBlock?: number;
}

/**
 * Attention of q [qHeads, m, d] over a paged cache (one request), read through its block tables:
 * each KV head walks its own pages, lengths may differ per head. Statistics are [qHeads, L] with
 * L = the longest head; key j of a head is its j-th stored token (zeros past its length).
 */
export function pagedAttention(q: Tensor, table: BlockTableView, options: PagedAttentionOptions): KernelResult {
  assertShape(q, 3, 'pagedAttention', 'q', '[qHeads, m, headDim]');
  const q4 = reshape(q, [1, ...q.shape]);
  const given = options?.queryPositions;
  const qPos = given !== undefined && !(given instanceof Int32Array) && given.rank === 1 ? reshape(given, [1, given.shape[0]]) : undefined;
  try {
    const r = batchedPagedAttention(q4, [table], qPos ? { ...options, queryPositions: qPos } : options, 'pagedAttention');
    const squeeze = (t: Tensor) => {
      const s = reshape(t, t.shape.slice(1));
      t.dispose();
      return s;
    };
    const result: KernelResult = { output: squeeze(r.output) };
    if (r.lse) result.lse = squeeze(r.lse);
    if (r.statistics) {
      const { keySum, keyMax, queryCount, rowProbabilities } = r.statistics;
      result.statistics = { keySum: squeeze(keySum), keyMax: squeeze(keyMax), queryCount: squeeze(queryCount) };
      if (rowProbabilities) result.statistics.rowProbabilities = squeeze(rowProbabilities);
    }
    return result;
  } finally {
    q4.dispose();
    qPos?.dispose();
  }
}

/**
 * Paged attention for a batch of requests sharing one pool: q [batch, qHeads, m, d], one block
 * table per request → output [batch, qHeads, m, dv]; statistics [batch, qHeads, L].
 */
export function batchedPagedAttention(q: Tensor, tables: readonly BlockTableView[], options: PagedAttentionOptions, where = 'batchedPagedAttention'): KernelResult {
  assertFloatTensor(q, where, 'q');
  assertShape(q, 4, where, 'q', '[batch, qHeads, m, headDim]');
  const [batch, qHeads, m, d] = q.shape;
  if (tables.length !== batch) throw new ShapeMismatchError(`${where}: ${tables.length} block tables for a batch of ${batch}`);
  if (batch === 0) throw new ShapeMismatchError(`${where}: empty batch`);
  const pool = tables[0].pool;
  const kvHeads = tables[0].kvHeads;
  for (const t of tables) {
    if (t.pool !== pool) throw new InvalidConfigError(`${where}: all block tables must use the same pool`);
    if (t.kvHeads !== kvHeads) throw new ShapeMismatchError(`${where}: block tables disagree on the KV head count`);
  }
  if (d !== pool.headDim) throw new ShapeMismatchError(`${where}: q has head dim ${d} but the pool holds ${pool.headDim}`);
  assertGroups(qHeads, kvHeads, where);
  if (options?.queryPositions === undefined) throw new InvalidConfigError(`${where}: queryPositions are required for paged caches`);
  const attrs = { ...resolveKernelAttrs(options, d, where), queryBlock: positiveInteger(options.queryBlock, 32, where, 'queryBlock') };
  checkStatisticsFor(attrs.statistics, m, where);
  const packed = packBlockTables(tables, kvHeads);
  ensureAttentionKernels(q.backend);
  return withTemporaries(q.backend, (temps) => {
    const qPos = temps.positions(options.queryPositions, [batch, m], 0, where, 'queryPositions');
    const { keys, values, positions } = pool.storage();
    const tableT = temps.ints(packed.pages, [batch, kvHeads, packed.maxPages]);
    const lengthT = temps.ints(packed.lengths, [batch, kvHeads]);
    return runKernel('pagedAttention', [q, keys, values, positions, tableT, lengthT, qPos], { ...attrs, maxLength: packed.maxLength });
  });
}
