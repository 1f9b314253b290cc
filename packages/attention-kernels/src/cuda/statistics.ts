import { type Tensor, tensor } from '@kvkit/tensor-core';
import { arg, type CudaBackend, defineCudaModule, gridFor, rowMajor } from '@kvkit/tensor-core/cuda';
import { statisticsWeights } from '../gpu/statistics-weights.js';
import { statisticsOnly, zeroKeyStatistics } from '../gpu/with-statistics.js';
import type { KernelAttrs, KeyStatistics } from '../ops/attention-types.js';
import { decodeAttentionCuda } from './decode-attention.js';
import source from './statistics.cu';

export const statisticsModule = defineCudaModule({ name: 'kvkit-attention-statistics', source });

/** `attentionStatistics` on CUDA: the split-K decode with lse (V := K, its output unused), then `keyStatisticsCuda`. */
export function attentionStatisticsCuda(backend: CudaBackend, inputs: readonly [Tensor, Tensor, Tensor, Tensor, Tensor?], attrs: KernelAttrs): KeyStatistics {
  const [q, k, qPos, kPos, logWeights] = inputs;
  return statisticsOnly(
    attrs,
    (a) => decodeAttentionCuda(backend, [q, k, k, qPos, kPos, logWeights], a, 'attentionStatistics'),
    (lse) => keyStatisticsCuda(backend, inputs, attrs, lse),
  );
}

/**
 * Per-key statistics given each query row's log-sum-exp `lse` [qHeads, m] (from the attention pass
 * that produced the output): one thread per (query head, key) recomputes the probabilities.
 */
export function keyStatisticsCuda(backend: CudaBackend, [q, k, qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor?], attrs: KernelAttrs, lse: Tensor): KeyStatistics {
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const stats = attrs.statistics;
  const result = zeroKeyStatistics(backend, qHeads, kvHeads, n, stats.rowProbabilities);
  const { keySum, keyMax, queryCount, rowProbabilities } = result;
  if (qHeads * m * n === 0) return result;
  const { first, firstRow, weights } = statisticsWeights(stats, m);
  const made = [rowMajor(backend, lse), tensor(weights, [weights.length], { backend })];
  try {
    const [qs, ks, qp, kp] = [q, k, qPos, kPos].map((t) => made[made.push(rowMajor(backend, t)) - 1]);
    const lw = logWeights && made[made.push(rowMajor(backend, logWeights)) - 1];
    backend.launch(statisticsModule, `kv_key_statistics_${q.dtype}_${k.dtype}`, { grid: gridFor(qHeads * n, backend), block: 256 }, [
      arg.ptr(backend.address(keySum)), arg.ptr(backend.address(keyMax)), arg.ptr(backend.address(queryCount)),
      arg.ptr(rowProbabilities ? backend.address(rowProbabilities) : 0),
      arg.ptr(backend.address(qs)), arg.ptr(backend.address(ks)), arg.ptr(backend.address(qp)), arg.ptr(backend.address(kp)),
      arg.ptr(lw ? backend.address(lw) : 0), arg.ptr(backend.address(made[0])), arg.ptr(backend.address(made[1])),
      arg.i32(qHeads), arg.i32(kvHeads), arg.i32(m), arg.i32(n), arg.i32(d),
      arg.f32(attrs.scale), arg.bool(attrs.causal), arg.i32(attrs.window), arg.f32(attrs.softcap),
      arg.i32(first), arg.i32(firstRow), arg.i32(stats.rowProbabilities),
    ]);
  } finally {
    for (const t of made) t.dispose();
  }
  return result;
}
