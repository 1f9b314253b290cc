import { cast, reshape, type Tensor } from '@kvkit/tensor-core';
import { arg, type CudaBackend, defineCudaModule, type KernelArg, rowMajor } from '@kvkit/tensor-core/cuda';
import type { SplitKAttrs } from '../cpu/split-k-decode.js';
import { planSplitK } from '../gpu/split-k-plan.js';
import { unfoldBatch } from '../gpu/unfold-batch.js';
import { assertNoStatistics } from '../gpu/unsupported.js';
import type { KernelAttrs, KernelResult, KiviKernelAttrs } from '../ops/attention-types.js';
import source from './decode-attention.cu';

export const decodeAttentionModule = defineCudaModule({ name: 'kvkit-attention-decode', source });

const WARPS = 4; // DEC_WARPS in decode-attention.cu
const ROWS = 8; // DEC_ROWS
const MERGE_THREADS = 128;

/** What pass 1 of a split-K decode launch needs besides its own inputs. */
interface PartialLaunch {
  /** Partial outputs [parts, rows, dv] and states [parts, rows, 2] (max, Σ exp) to fill. */
  acc: Tensor;
  stat: Tensor;
  grid: [number, number, number];
  block: number;
  sharedBytes: number;
}

/** Row-major copies (or views) of the inputs, disposed together. */
class Staging {
  private readonly made: Tensor[] = [];
  constructor(private readonly backend: CudaBackend) {}
  rowMajor(t: Tensor): Tensor {
    return this.keep(rowMajor(this.backend, t));
  }
  keep(t: Tensor): Tensor {
    this.made.push(t);
    return t;
  }
  dispose(): void {
    for (const t of this.made) t.dispose();
  }
}

/**
 * The split-K skeleton every CUDA decode kernel shares: allocates the partials, lets `partial` launch
 * pass 1 (one block per partition × KV head × chunk of ≤ 8 query rows), then merges the partitions
 * by log-sum-exp into the output [qHeads, m, dv] (q's dtype) and the f32 lse [qHeads, m].
 */
function splitKDecode(
  backend: CudaBackend,
  q: Tensor,
  shape: { kvHeads: number; n: number; dv: number; partition: number },
  attrs: KernelAttrs,
  partial: (launch: PartialLaunch, staging: Staging) => void,
): KernelResult {
  const [qHeads, m, d] = q.shape;
  const { kvHeads, dv } = shape;
  const plan = planSplitK(backend, q, shape, attrs.lse);
  const { rows, parts, output, lse } = plan;
  if (plan.empty) return plan.result();
  const staging = new Staging(backend);
  try {
    const acc = staging.keep(backend.empty([Math.max(parts, 1), rows, dv], 'f32'));
    const stat = staging.keep(backend.empty([Math.max(parts, 1), rows, 2], 'f32'));
    if (parts > 0) {
      const chunks = Math.ceil(((qHeads / kvHeads) * m) / ROWS);
      const sharedBytes = 4 * (ROWS * d + WARPS * ROWS * dv + 2 * WARPS * ROWS);
      partial({ acc, stat, grid: [parts, kvHeads, chunks], block: WARPS * 32, sharedBytes }, staging);
    }
    mergePartialsCuda(backend, { acc, stat, parts }, output, lse);
  } finally {
    staging.dispose();
  }
  return plan.result();
}

/**
 * Pass 2: merges partials (outputs f32 [parts, rows, dv], states f32 [parts, rows, 2]) by
 * log-sum-exp into `output` (row-major, rows × dv elements, any float dtype) and, when given, `lse` [rows].
 */
export function mergePartialsCuda(backend: CudaBackend, partials: { acc: Tensor; stat: Tensor; parts: number }, output: Tensor, lse: Tensor | undefined): void {
  const [, rows, dv] = partials.acc.shape;
  if (rows === 0) return;
  backend.launch(decodeAttentionModule, `kv_decode_merge_${output.dtype}`, { grid: rows, block: MERGE_THREADS }, [
    arg.ptr(backend.address(output)), arg.ptr(lse ? backend.address(lse) : 0),
    arg.ptr(backend.address(partials.acc)), arg.ptr(backend.address(partials.stat)),
    arg.i32(rows), arg.i32(partials.parts), arg.i32(dv),
  ]);
}

const maskArgs = (attrs: KernelAttrs): KernelArg[] => [arg.f32(attrs.scale), arg.bool(attrs.causal), arg.i32(attrs.window), arg.f32(attrs.softcap)];

/** Split-K decode attention over dense K/V [kvHeads, n, ·] (decode-attention.cu). */
export function decodeAttentionCuda(
  backend: CudaBackend,
  [q, k, v, qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?],
  attrs: SplitKAttrs,
  where = 'decodeAttention',
): KernelResult {
  assertNoStatistics(attrs, where, 'CUDA');
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const dv = v.shape[2];
  return splitKDecode(backend, q, { kvHeads, n, dv, partition: attrs.partitionSize }, attrs, (launch, staging) => {
    const [qs, ks, vs, qp, kp] = [q, k, v, qPos, kPos].map((t) => staging.rowMajor(t));
    const lw = logWeights && staging.rowMajor(logWeights);
    const { acc, stat, ...config } = launch;
    backend.launch(decodeAttentionModule, `kv_decode_partial_${q.dtype}_${k.dtype}`, config, [
      arg.ptr(backend.address(acc)), arg.ptr(backend.address(stat)),
      arg.ptr(backend.address(qs)), arg.ptr(backend.address(ks)), arg.ptr(backend.address(vs)),
      arg.ptr(backend.address(qp)), arg.ptr(backend.address(kp)), arg.ptr(lw ? backend.address(lw) : 0),
      arg.i32(qHeads), arg.i32(kvHeads), arg.i32(m), arg.i32(n), arg.i32(d), arg.i32(dv), arg.i32(attrs.partitionSize),
      ...maskArgs(attrs),
    ]);
  });
}

/** The dtype a group of tensors is read in: theirs when they agree, else f32 (they are cast). */
function commonDtype(tensors: readonly Tensor[]): 'f16' | 'f32' {
  return tensors.every((t) => t.dtype === 'f16') ? 'f16' : 'f32';
}

/**
 * Fused KIVI decode: pass 1 dequantizes keys (per channel, per token group) and values (per token,
 * per channel group) from the packed codes as it reads them; the residual is read as is. Inputs as
 * the `kiviDecodeAttention` kernel signature lists them.
 */
export function kiviDecodeAttentionCuda(backend: CudaBackend, inputs: readonly Tensor[], attrs: KiviKernelAttrs): KernelResult {
  assertNoStatistics(attrs, 'kiviDecodeAttention', 'CUDA');
  const [q, keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, residualKeys, residualValues, kPos, qPos] = inputs;
  const [qHeads, m, d] = q.shape;
  const kvHeads = keyCodes.shape[0];
  const n = attrs.length;
  return splitKDecode(backend, q, { kvHeads, n, dv: d, partition: attrs.partitionSize }, attrs, (launch, staging) => {
    const scaleType = commonDtype([keyScale, keyMin, valueScale, valueMin]);
    const residualType = commonDtype([residualKeys, residualValues]);
    const as = (t: Tensor, dtype: 'f16' | 'f32') => staging.rowMajor(t.dtype === dtype ? t : staging.keep(cast(t, dtype)));
    const floats = [keyScale, keyMin, valueScale, valueMin].map((t) => as(t, scaleType));
    const residual = [residualKeys, residualValues].map((t) => as(t, residualType));
    const [qs, kc, vc, qp, kp] = [q, keyCodes, valueCodes, qPos, kPos].map((t) => staging.rowMajor(t));
    const { acc, stat, ...config } = launch;
    backend.launch(decodeAttentionModule, `kv_kivi_decode_partial_${q.dtype}_${scaleType}_${residualType}`, config, [
      arg.ptr(backend.address(acc)), arg.ptr(backend.address(stat)), arg.ptr(backend.address(qs)),
      arg.ptr(backend.address(kc)), arg.ptr(backend.address(floats[0])), arg.ptr(backend.address(floats[1])),
      arg.ptr(backend.address(vc)), arg.ptr(backend.address(floats[2])), arg.ptr(backend.address(floats[3])),
      arg.ptr(backend.address(residual[0])), arg.ptr(backend.address(residual[1])),
      arg.ptr(backend.address(qp)), arg.ptr(backend.address(kp)),
      arg.i32(qHeads), arg.i32(kvHeads), arg.i32(m), arg.i32(n), arg.i32(d), arg.i32(attrs.partitionSize),
      ...maskArgs(attrs),
      arg.i32(attrs.bits), arg.i32(attrs.groupSize), arg.i32(attrs.valueGroupSize),
      arg.i32(attrs.keyGroups * attrs.groupSize), arg.i32(attrs.valueTokens),
      arg.i32(keyCodes.shape[1]), arg.i32(valueCodes.shape[1]), arg.i32(residualKeys.shape[1]), arg.i32(residualValues.shape[1]),
    ]);
  });
}

/**
 * Decode (or chunked prefill) through block tables: the batch folds into the heads (KV row
 * b·kvHeads + head walks its own pages, ragged lengths), so it is the same split-K launch over
 * maxLength tokens; partitions past a row's length are empty. Output [B, qHeads, m, dv].
 */
export function pagedAttentionCuda(backend: CudaBackend, inputs: readonly Tensor[], attrs: KernelAttrs & { maxLength: number }): KernelResult {
  assertNoStatistics(attrs, 'pagedAttention', 'CUDA');
  const [q, poolKeys, poolValues, poolPositions, table, lengths, qPos] = inputs;
  const [batch, qHeads, m, d] = q.shape;
  const [, pageSize] = poolKeys.shape;
  const dv = poolValues.shape[2];
  const [, kvHeads, maxPages] = table.shape;
  const folded = reshape(q, [batch * qHeads, m, d]);
  try {
    const partition = Math.max(pageSize, Math.ceil(512 / pageSize) * pageSize);
    const r = splitKDecode(backend, folded, { kvHeads: batch * kvHeads, n: attrs.maxLength, dv, partition }, attrs, (launch, staging) => {
      const [qs, ks, vs, pos, tab, len, qp] = [folded, poolKeys, poolValues, poolPositions, table, lengths, qPos].map((t) => staging.rowMajor(t));
      const { acc, stat, ...config } = launch;
      backend.launch(decodeAttentionModule, `kv_paged_decode_partial_${q.dtype}_${poolKeys.dtype}`, config, [
        arg.ptr(backend.address(acc)), arg.ptr(backend.address(stat)), arg.ptr(backend.address(qs)),
        arg.ptr(backend.address(ks)), arg.ptr(backend.address(vs)), arg.ptr(backend.address(pos)),
        arg.ptr(backend.address(tab)), arg.ptr(backend.address(len)), arg.ptr(backend.address(qp)),
        arg.i32(batch * qHeads), arg.i32(batch * kvHeads), arg.i32(m), arg.i32(d), arg.i32(dv), arg.i32(partition),
        ...maskArgs(attrs),
        arg.i32(pageSize), arg.i32(maxPages), arg.i32(kvHeads),
      ]);
    });
    return unfoldBatch(r, batch, qHeads);
  } finally {
    folded.dispose();
  }
}

/**
 * Split-K decode for a batch of requests with ragged K/V packed along the tokens (kvIndptr [B+1]):
 * the batch folds into the KV rows as for paged caches. The longest request is not known on the
 * host (the offsets live on the device), so the partitions cover all `total` tokens; those past a
 * request's end are empty blocks. Output [B, qHeads, m, dv].
 */
export function batchedDecodeAttentionCuda(
  backend: CudaBackend,
  [q, k, v, qPos, kPos, indptr, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?],
  attrs: SplitKAttrs,
): KernelResult {
  assertNoStatistics(attrs, 'batchedDecodeAttention', 'CUDA');
  const [batch, qHeads, m, d] = q.shape;
  const [kvHeads, total] = k.shape;
  const dv = v.shape[2];
  const folded = reshape(q, [batch * qHeads, m, d]);
  try {
    const r = splitKDecode(backend, folded, { kvHeads: batch * kvHeads, n: total, dv, partition: attrs.partitionSize }, attrs, (launch, staging) => {
      const [qs, ks, vs, qp, kp, ip] = [folded, k, v, qPos, kPos, indptr].map((t) => staging.rowMajor(t));
      const lw = logWeights && staging.rowMajor(logWeights);
      const { acc, stat, ...config } = launch;
      backend.launch(decodeAttentionModule, `kv_ragged_decode_partial_${q.dtype}_${k.dtype}`, config, [
        arg.ptr(backend.address(acc)), arg.ptr(backend.address(stat)), arg.ptr(backend.address(qs)),
        arg.ptr(backend.address(ks)), arg.ptr(backend.address(vs)), arg.ptr(backend.address(qp)), arg.ptr(backend.address(kp)),
        arg.ptr(backend.address(ip)), arg.ptr(lw ? backend.address(lw) : 0),
        arg.i32(batch * qHeads), arg.i32(batch * kvHeads), arg.i32(m), arg.i32(d), arg.i32(dv), arg.i32(attrs.partitionSize),
        ...maskArgs(attrs),
        arg.i32(total), arg.i32(kvHeads),
      ]);
    });
    return unfoldBatch(r, batch, qHeads);
  } finally {
    folded.dispose();
  }
}
