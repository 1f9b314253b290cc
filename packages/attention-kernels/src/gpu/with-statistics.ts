import type { Tensor } from '@kvkit/tensor-core';
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
