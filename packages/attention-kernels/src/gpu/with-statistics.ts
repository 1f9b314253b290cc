import { type Backend, type Tensor, zeros } from '@kvkit/tensor-core';
import type { KernelAttrs, KernelResult, KeyStatistics } from '../ops/attention-types.js';

/**
 * A GPU attention call that may ask for per-key statistics: the attention pass runs with its
 * log-sum-exp (and statistics off), then `statistics(lse)` recomputes the probabilities per key from
 * it — the CPU kernels' two passes. The lse is returned only when it was asked for.
 */
export function withKeyStatistics<A extends KernelAttrs>(attrs: A, attention: (attrs: A) => KernelResult, statistics: (lse: Tensor) => KeyStatistics): KernelResult {
  if (!attrs.statistics.enabled) return attention(attrs);
  const result = attention({ ...attrs, lse: true, statistics: { ...attrs.statistics, enabled: false } });
  const lse = result.lse as Tensor;
  const stats = statistics(lse);
  if (attrs.lse) return { ...result, statistics: stats };
  lse.dispose();
  return { output: result.output, statistics: stats };
}

/**
 * `attentionStatistics` on a GPU backend: the backend's split-K attention with its lse (V := K, the
 * output unused), then its statistics pass from that lse.
 */
export function statisticsOnly<A extends KernelAttrs>(attrs: A, attention: (attrs: A & { partitionSize: number }) => KernelResult, statistics: (lse: Tensor) => KeyStatistics): KeyStatistics {
  const rows = attention({ ...attrs, lse: true, statistics: { ...attrs.statistics, enabled: false }, partitionSize: 512 });
  try {
    return statistics(rows.lse as Tensor);
  } finally {
    rows.output.dispose();
    rows.lse?.dispose();
  }
}

/**
 * Zeroed statistics outputs on `backend`: keySum/keyMax [...headShape, width], queryCount
 * [...kvShape, width] and, when `probRows` > 0, the probability rows [...headShape, probRows, width].
 */
export function zeroKeyStatistics(backend: Backend, headShape: readonly number[], kvShape: readonly number[], width: number, probRows: number): KeyStatistics {
  const f32 = (shape: number[]) => zeros(shape, { dtype: 'f32', backend });
  const result: KeyStatistics = { keySum: f32([...headShape, width]), keyMax: f32([...headShape, width]), queryCount: f32([...kvShape, width]) };
  if (probRows > 0) result.rowProbabilities = f32([...headShape, probRows, width]);
  return result;
}
