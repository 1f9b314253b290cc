import { contiguous, reshape, type Tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type { SplitKAttrs } from '../cpu/split-k-decode.js';
import { unfoldBatch } from '../gpu/unfold-batch.js';
import { assertNoStatistics } from '../gpu/unsupported.js';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';
import { joinSources, listedPositions, splitKDecode, strided, viewValues } from './split-k.js';

/**
 * Split-K decode attention in WGSL over dense K/V: one workgroup per (partition of keys, KV head,
 * chunk of query rows) streams its keys in tiles of 32 with an online softmax, sharing every K/V
 * element among the query heads of the KV head (GQA); a second program merges the partitions by
 * log-sum-exp. Views of any strides are read in place (offsets and strides are uniforms).
 */
export function decodeAttentionWebGpu(
  backend: WebGpuBackend,
  [q, k, v, qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?],
  attrs: SplitKAttrs,
  where = 'decodeAttention',
): KernelResult {
  assertNoStatistics(attrs, where, 'WebGPU');
  const [kvHeads, n] = k.shape;
  return splitKDecode(backend, q, { kvHeads, n, dv: v.shape[2], partition: attrs.partitionSize }, attrs, where, () => ({
    key: `dense:${k.dtype}:${logWeights ? 'lw' : 'plain'}`,
    withLogWeights: logWeights !== undefined,
    ...joinSources(listedPositions(qPos, kPos), {
      code: `
fn key_at(kvh: u32, j: u32, c: u32) -> f32 { return k_load(u_k_offset() + kvh * u_k_strides(0u) + j * u_k_strides(1u) + c * u_k_strides(2u)); }
fn value_at(kvh: u32, j: u32, c: u32) -> f32 { return v_load(u_v_offset() + kvh * u_v_strides(0u) + j * u_v_strides(1u) + c * u_v_strides(2u)); }
${logWeights ? 'fn log_weight(kvh: u32, j: u32) -> f32 { return lw_load(u_lw_offset() + kvh * u_lw_strides(0u) + j * u_lw_strides(1u)); }' : ''}`,
    bindings: [
      { name: 'k', dtype: k.dtype, access: 'read' },
      { name: 'v', dtype: v.dtype, access: 'read' },
      ...(logWeights ? [{ name: 'lw', dtype: 'f32' as const, access: 'read' as const }] : []),
    ],
    buffers: [k, v, ...(logWeights ? [logWeights] : [])],
    uniforms: [...strided('k', 3), ...strided('v', 3), ...(logWeights ? strided('lw', 2) : [])],
    values: { ...viewValues('k', k), ...viewValues('v', v), ...(logWeights ? viewValues('lw', logWeights) : {}) },
    }),
  }));
}

/**
 * Decode (or chunked prefill) through block tables in WGSL: the batch folds into the heads (KV row
 * b·kvHeads + head walks its own pages, ragged lengths), the same split-K pass over maxLength tokens
 * (partitions past a row's length are empty). Output [B, qHeads, m, dv].
 */
export function pagedAttentionWebGpu(backend: WebGpuBackend, inputs: readonly Tensor[], attrs: KernelAttrs & { maxLength: number }): KernelResult {
  const where = 'pagedAttention';
  assertNoStatistics(attrs, where, 'WebGPU');
  const [q, poolKeys, poolValues, poolPositions, table, lengths, qPos] = inputs;
  const [batch, qHeads, m, d] = q.shape;
  const [, pageSize] = poolKeys.shape;
  const dv = poolValues.shape[2];
  const [, kvHeads, maxPages] = table.shape;
  const folded = reshape(q, [batch * qHeads, m, d]);
  const staged = [poolKeys, poolValues, poolPositions, table, lengths, qPos].map((t) => (t.isContiguous() ? t : contiguous(t)));
  const [keys, values, positions, tab, lens, qp] = staged;
  try {
    const partition = Math.max(pageSize, Math.ceil(512 / pageSize) * pageSize);
    const r = splitKDecode(backend, folded, { kvHeads: batch * kvHeads, n: attrs.maxLength, dv, partition }, attrs, where, () => ({
      key: `paged:${poolKeys.dtype}`,
      withLogWeights: false,
      code: PAGED_SOURCE,
      bindings: (['pk', 'pv', 'ppos', 'tab', 'lens', 'qp'] as const).map((name, i) => ({ name, dtype: staged[i].dtype, access: 'read' as const })),
      buffers: [keys, values, positions, tab, lens, qp],
      uniforms: [...['pk', 'pv', 'ppos', 'tab', 'lens', 'qp'].map((name) => `${name}_offset`), 'page_size', 'max_pages', 'kv_heads_per_request'].map((name) => ({ name, type: 'u32' as const })),
      values: {
        pk_offset: keys.offset,
        pv_offset: values.offset,
        ppos_offset: positions.offset,
        tab_offset: tab.offset,
        lens_offset: lens.offset,
        qp_offset: qp.offset,
        page_size: pageSize,
        max_pages: maxPages,
        kv_heads_per_request: kvHeads,
      },
    }));
    return unfoldBatch(r, batch, qHeads);
  } finally {
    folded.dispose();
    staged.forEach((t, i) => t !== inputs[i + 1] && t.dispose());
  }
}

/**
 * Split-K decode in WGSL for a batch of requests with ragged K/V packed along the tokens (kvIndptr
 * [B+1]): the batch folds into the KV rows as for paged caches. The longest request is not known
 * on the host (the offsets live on the device), so the partitions cover all \`total\` tokens; those
 * past a request's end are empty. Output [B, qHeads, m, dv].
 */
export function batchedDecodeAttentionWebGpu(
  backend: WebGpuBackend,
  inputs: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?],
  attrs: SplitKAttrs,
): KernelResult {
  const where = 'batchedDecodeAttention';
  assertNoStatistics(attrs, where, 'WebGPU');
  const [q, , v, , , , logWeights] = inputs;
  const [batch, qHeads, m, d] = q.shape;
  const [kvHeads, total] = inputs[1].shape;
  const folded = reshape(q, [batch * qHeads, m, d]);
  const staged = inputs.slice(1).map((t) => (t === undefined || t.isContiguous() ? t : contiguous(t)));
  const [k, vs, qPos, kPos, indptr, lw] = staged as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?];
  const names = ['k', 'v', 'qp', 'kp', 'ip', ...(lw ? ['lw'] : [])];
  try {
    const r = splitKDecode(backend, folded, { kvHeads: batch * kvHeads, n: total, dv: v.shape[2], partition: attrs.partitionSize }, attrs, where, () => ({
      key: `ragged:${k.dtype}:${lw ? 'lw' : 'plain'}`,
      withLogWeights: lw !== undefined,
      code: RAGGED_SOURCE + (lw ? 'fn log_weight(kvh: u32, j: u32) -> f32 { return lw_load(u_lw_offset() + ragged_row(kvh, j)); }' : ''),
      bindings: names.map((name, i) => ({ name, dtype: (staged[i] as Tensor).dtype, access: 'read' as const })),
      buffers: [k, vs, qPos, kPos, indptr, ...(lw ? [lw] : [])],
      uniforms: [...names.map((name) => `${name}_offset`), 'total', 'kv_heads_per_request'].map((name) => ({ name, type: 'u32' as const })),
      values: { ...Object.fromEntries(names.map((name, i) => [`${name}_offset`, (staged[i] as Tensor).offset])), total, kv_heads_per_request: kvHeads },
    }));
    return unfoldBatch(r, batch, qHeads);
  } finally {
    folded.dispose();
    staged.forEach((t, i) => t !== inputs[i + 1] && t?.dispose());
  }
}

/** Packed ragged K/V: KV row kvh = b·kvHeads + head reads tokens [indptr[b], indptr[b+1]) of that head (row-major buffers). */
const RAGGED_SOURCE = `
fn ragged_start(kvh: u32) -> u32 { return u32(ip_load(u_ip_offset() + kvh / u_kv_heads_per_request())); }
fn ragged_row(kvh: u32, j: u32) -> u32 { return (kvh % u_kv_heads_per_request()) * u_total() + ragged_start(kvh) + j; }
fn key_at(kvh: u32, j: u32, c: u32) -> f32 { return k_load(u_k_offset() + ragged_row(kvh, j) * u_d() + c); }
fn value_at(kvh: u32, j: u32, c: u32) -> f32 { return v_load(u_v_offset() + ragged_row(kvh, j) * u_dv() + c); }
fn kpos_at(kvh: u32, j: u32) -> i32 { return kp_load(u_kp_offset() + ragged_start(kvh) + j); }
fn qpos_at(kvh: u32, i: u32) -> i32 { return qp_load(u_qp_offset() + (kvh / u_kv_heads_per_request()) * u_m() + i); }
fn length_at(kvh: u32) -> u32 { return u32(ip_load(u_ip_offset() + kvh / u_kv_heads_per_request() + 1u)) - ragged_start(kvh); }
`;


/** Pool pages through the block table of KV row kvh = b·kvHeads + head (all buffers row-major). */
const PAGED_SOURCE = `
fn slot_of(kvh: u32, j: u32) -> u32 {
  let page = u32(tab_load(u_tab_offset() + kvh * u_max_pages() + j / u_page_size()));
  return page * u_page_size() + j % u_page_size();
}
fn key_at(kvh: u32, j: u32, c: u32) -> f32 { return pk_load(u_pk_offset() + slot_of(kvh, j) * u_d() + c); }
fn value_at(kvh: u32, j: u32, c: u32) -> f32 { return pv_load(u_pv_offset() + slot_of(kvh, j) * u_dv() + c); }
fn kpos_at(kvh: u32, j: u32) -> i32 { return ppos_load(u_ppos_offset() + slot_of(kvh, j)); }
fn qpos_at(kvh: u32, i: u32) -> i32 { return qp_load(u_qp_offset() + (kvh / u_kv_heads_per_request()) * u_m() + i); }
fn length_at(kvh: u32) -> u32 { return u32(lens_load(u_lens_offset() + kvh)); }`;
