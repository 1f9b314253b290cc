import { type AttentionMask, runKernel, type Tensor } from '@kvkit/tensor-core';
import { ensureAttentionKernels } from '../kernels.js';
import type { KeyLogWeightsOption, KeyStatistics, StatisticsOptions } from './attention-types.js';
import { checkStatisticsFor, denseShapes, keyLogWeightsInput, positiveInteger, resolveKernelAttrs, withTemporaries } from './validate.js';

export interface AttentionStatisticsOptions extends AttentionMask, KeyLogWeightsOption {
  /** i32 [m]: positions of the queries; default n − m … n − 1 (the last m tokens). */
  queryPositions?: Tensor | Int32Array;
  /** i32 [n]: positions of the keys; default 0 … n − 1. */
  keyPositions?: Tensor | Int32Array;
  /** Which of the given queries count and how (window of the last ones, decay); default all, weight 1. */
  statistics?: StatisticsOptions;
  tileSize?: number;
  queryBlock?: number;
}

/**
 * Per-key attention statistics without the output and without an m × n matrix: for q [qHeads, m, d]
 * (e.g. SnapKV's observation window: the last w queries of the prompt) over k [kvHeads, n, d],
 * keySum/keyMax [qHeads, n] of the softmax probabilities and the visible-query count [n]. Two sweeps
 * over the keys (row max/sum, then probabilities); V is never read.
 */
export function attentionStatistics(q: Tensor, k: Tensor, options: AttentionStatisticsOptions = {}): KeyStatistics {
  const where = 'attentionStatistics';
  const { m, d, n, kvHeads } = denseShapes(q, k, undefined, where);
  const base = resolveKernelAttrs({ ...options, statistics: options.statistics ?? true }, d, where);
  const attrs = { ...base, queryBlock: positiveInteger(options.queryBlock, 32, where, 'queryBlock') };
  checkStatisticsFor(attrs.statistics, m, where);
  const logWeights = keyLogWeightsInput(options.keyLogWeights, kvHeads, n, where);
  ensureAttentionKernels(q.backend);
  return withTemporaries(q.backend, (temps) => {
    const qPos = temps.positions(options.queryPositions, [m], n - m, where, 'queryPositions');
    const kPos = temps.positions(options.keyPositions, [n], 0, where, 'keyPositions');
    return runKernel('attentionStatistics', [q, k, qPos, kPos, logWeights], attrs);
  });
}
