import { type AttendResult, type DType, type Tensor, cast, concat } from '@kvkit/tensor-core';

/**
 * Joins per-KV-head attention results (each over that head's query group) into one result over all
 * query heads: output [qHeads, m, d] in `dtype`, statistics [qHeads, n] and lse [qHeads, m] when
 * every head returned them. The per-head tensors stay owned by the caller.
 */
export function joinHeadResults(results: readonly AttendResult[], dtype: DType): AttendResult {
  const joined = concat(results.map((r) => r.output), 0);
  const output = joined.dtype === dtype ? joined : cast(joined, dtype);
  if (output !== joined) joined.dispose();
  const lse = results.every((r) => r.lse) ? { lse: concat(results.map((r) => r.lse!), 0) } : {};
  if (!results.every((r) => r.statistics)) return { output, ...lse };
  const stat = (name: 'keySum' | 'keyMax'): Tensor => concat(results.map((r) => r.statistics![name]), 0);
  return { output, statistics: { keySum: stat('keySum'), keyMax: stat('keyMax') }, ...lse };
}
