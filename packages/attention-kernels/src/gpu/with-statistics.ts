import { type Backend, type Tensor, zeros } from '@kvkit/tensor-core';
import type { KernelAttrs, KernelResult, KeyStatistics } from '../ops/attention-types.js';

/**
 * A dense GPU attention call that may ask for per-key statistics: the attention pass runs with its
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

/** [q, k, v, qPos, kPos, logWeights?] → what the statistics pass reads (V never). */
export function statisticsInputs([q, k, , qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?]): [Tensor, Tensor, Tensor, Tensor, Tensor?] {
  return [q, k, qPos, kPos, logWeights];
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
 * Zeroed statistics outputs on `backend`: keySum/keyMax [qHeads, n], queryCount [kvHeads, n] and,
 * when `probRows` > 0, the probability rows [qHeads, probRows, n].
 */
export function zeroKeyStatistics(backend: Backend, qHeads: number, kvHeads: number, n: number, probRows: number): KeyStatistics {
  const f32 = (shape: number[]) => zeros(shape, { dtype: 'f32', backend });
  const result: KeyStatistics = { keySum: f32([qHeads, n]), keyMax: f32([qHeads, n]), queryCount: f32([kvHeads, n]) };
  if (probRows > 0) result.rowProbabilities = f32([qHeads, probRows, n]);
  return result;
}
