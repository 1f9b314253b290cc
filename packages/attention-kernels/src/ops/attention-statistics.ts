import { type AttentionMask, runKernel, type Tensor } from '@kvkit/tensor-core';
import type { KeyLogWeightsOption, KeyStatistics, StatisticsOptions } from './attention-types.js';
import { denseCall } from './dense-call.js';
import { isTokenCodesInput, type TokenCodesInput } from '../formats/token-codes.js';
import { tokenCodesAttention } from './token-codes-attention.js';
import { positiveInteger } from './validate.js';

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
 * over the keys (row max/sum, then probabilities); V is never read. k may be per-token codes.
 */
export function attentionStatistics(q: Tensor, k: Tensor | TokenCodesInput, options: AttentionStatisticsOptions = {}): KeyStatistics {
  const where = 'attentionStatistics';
  const extra = () => ({ queryBlock: positiveInteger(options.queryBlock, 32, where, 'queryBlock') });
  const withStatistics = { ...options, statistics: options.statistics ?? true };
  if (isTokenCodesInput(k)) {
    const { output, statistics } = tokenCodesAttention(q, k, undefined, withStatistics, where, 'flash');
    output.dispose();
    return statistics!; // enabled above
  }
  return denseCall(q, k, undefined, withStatistics, where, extra, (attrs, qPos, kPos, logWeights) => runKernel('attentionStatistics', [q, k, qPos, kPos, logWeights], attrs));
}
