import type { Tensor } from '@kvkit/tensor-core';
import { arg, type CudaBackend, defineCudaModule, rowMajor } from '@kvkit/tensor-core/cuda';
import type { KernelResult } from '../ops/attention-types.js';
import type { SplitKAttrs } from '../cpu/split-k-decode.js';
import source from './decode-attention.cu';
import { assertNoStatistics } from '../gpu/unsupported.js';

export const decodeAttentionModule = defineCudaModule({ name: 'kvkit-attention-decode', source });

const WARPS = 4; // DEC_WARPS in decode-attention.cu
const ROWS = 8; // DEC_ROWS
const MERGE_THREADS = 128;

/** The split-K partials of one launch: [parts, rows, dv] unnormalized outputs and [parts, rows, 2] (max, Σ). */
export interface DecodePartials {
  acc: Tensor;
  stat: Tensor;
  parts: number;
}

/**
 * Split-K decode attention on CUDA: one block per (partition, KV head, chunk of ≤ 8 query rows)
 * writes partial states, a second kernel merges them by log-sum-exp (decode-attention.cu).
 */
export function decodeAttentionCuda(
  backend: CudaBackend,
  [q, k, v, qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?],
  attrs: SplitKAttrs,
): KernelResult {
  assertNoStatistics(attrs, 'decodeAttention', 'CUDA');
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const dv = v.shape[2];
  const rows = qHeads * m;
  const output = backend.empty([qHeads, m, dv], q.dtype);
  const lse = attrs.lse ? backend.empty([qHeads, m], 'f32') : undefined;
  if (rows === 0 || dv === 0) return lse ? { output, lse } : { output };
  const staged: Tensor[] = [];
  const stage = (t: Tensor): Tensor => {
    const r = rowMajor(backend, t);
    staged.push(r);
    return r;
  };
  try {
    const parts = n === 0 ? 0 : Math.ceil(n / attrs.partitionSize);
    const acc = backend.empty([Math.max(parts, 1), rows, dv], 'f32');
    const stat = backend.empty([Math.max(parts, 1), rows, 2], 'f32');
    staged.push(acc, stat);
    if (parts > 0) {
      const [qs, ks, vs, qp, kp] = [q, k, v, qPos, kPos].map(stage);
      const lw = logWeights && stage(logWeights);
      const chunks = Math.ceil(((qHeads / kvHeads) * m) / ROWS);
      const sharedBytes = 4 * (ROWS * d + WARPS * ROWS * dv + 2 * WARPS * ROWS);
      backend.launch(decodeAttentionModule, `kv_decode_partial_${q.dtype}_${k.dtype}`, { grid: [parts, kvHeads, chunks], block: WARPS * 32, sharedBytes }, [
        arg.ptr(backend.address(acc)), arg.ptr(backend.address(stat)),
        arg.ptr(backend.address(qs)), arg.ptr(backend.address(ks)), arg.ptr(backend.address(vs)),
        arg.ptr(backend.address(qp)), arg.ptr(backend.address(kp)), arg.ptr(lw ? backend.address(lw) : 0),
        arg.i32(qHeads), arg.i32(kvHeads), arg.i32(m), arg.i32(n), arg.i32(d), arg.i32(dv), arg.i32(attrs.partitionSize),
        arg.f32(attrs.scale), arg.bool(attrs.causal), arg.i32(attrs.window), arg.f32(attrs.softcap),
      ]);
    }
    mergePartialsCuda(backend, { acc, stat, parts }, output, lse);
  } finally {
    for (const t of staged) t.dispose();
  }
  return lse ? { output, lse } : { output };
}

/** Merges split-K partials into `output` [rows, dv] (q's dtype) and, when given, `lse` [rows]. */
export function mergePartialsCuda(backend: CudaBackend, partials: DecodePartials, output: Tensor, lse: Tensor | undefined): void {
  const rows = partials.acc.shape[1];
  const dv = partials.acc.shape[2];
  backend.launch(decodeAttentionModule, `kv_decode_merge_${output.dtype}`, { grid: rows, block: MERGE_THREADS }, [
    arg.ptr(backend.address(output)), arg.ptr(lse ? backend.address(lse) : 0),
    arg.ptr(backend.address(partials.acc)), arg.ptr(backend.address(partials.stat)),
    arg.i32(rows), arg.i32(partials.parts), arg.i32(dv),
  ]);
}
