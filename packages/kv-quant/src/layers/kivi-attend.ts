import { type KiviCacheView, kiviDecodeAttention } from '@kvkit/attention-kernels';
import type { AttendOptions, AttendResult, Tensor } from '@kvkit/tensor-core';

/**
 * Attention over a KIVI cache: the fused `kiviDecodeAttention` kernel of @kvkit/attention-kernels
 * reads the codes, scales and residual rows in place and dequantizes one tile at a time, so the
 * dequantized cache never exists. It takes any number of queries at their own positions (the
 * causal mask, window and soft-cap come from `options`), so prefill queries use it too.
 */
export function kiviAttend(view: KiviCacheView, q: Tensor, options: AttendOptions): AttendResult {
  const { positions, statistics, ...mask } = options;
  const result = kiviDecodeAttention(q, view, { ...mask, queryPositions: positions, statistics: statistics ?? false });
  const lse = result.lse ? { lse: result.lse } : {};
  if (!result.statistics) return { output: result.output, ...lse };
  // The contract's statistics are keySum and keyMax; the kernel's extras are released here.
  const { keySum, keyMax, queryCount, rowProbabilities } = result.statistics;
  queryCount.dispose();
  rowProbabilities?.dispose();
  return { output: result.output, statistics: { keySum, keyMax }, ...lse };
}
