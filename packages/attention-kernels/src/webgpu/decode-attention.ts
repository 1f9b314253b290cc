import { contiguous, reshape, type Tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type { SplitKAttrs } from '../cpu/split-k-decode.js';
import { unfoldBatch } from '../gpu/unfold-batch.js';
import { statisticsOnly, withKeyStatistics } from '../gpu/with-statistics.js';
import type { KernelAttrs, KernelResult, KeyStatistics } from '../ops/attention-types.js';
import { joinSources, type KeyedSourceParts, keyValuePass, listedPositions, splitKDecode, strided, viewValues } from './split-k.js';
import { FOLDED_TARGET, type KeySource, keyStatisticsWebGpu } from './statistics.js';
import { rowsAligned, wordRowSource, wordRowsBinding } from './word-rows.js';

type DenseInputs = readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?];

/**
 * Dense keys [kvHeads, n, d] (any strides with unit channel stride, read in place as 16-byte words)
 * with their positions and optional log weights [kvHeads, n].
 */
function denseKeys(k: Tensor, qPos: Tensor, kPos: Tensor, logWeights: Tensor | undefined): KeySource {
  const aligned = rowsAligned(k);
  return {
    key: `dense:${k.dtype}:${aligned ? 'a' : 'u'}:${logWeights ? 'lw' : 'plain'}`,
    withLogWeights: logWeights !== undefined,
    ...joinSources(listedPositions(qPos, kPos), {
      code: `
${wordRowSource('key', 'k', k.dtype, 'u_d()', aligned, 'u_k_offset() + kvh * u_k_strides(0u) + j * u_k_strides(1u)')}
${logWeights ? 'fn log_weight(kvh: u32, j: u32) -> f32 { return lw_load(u_lw_offset() + kvh * u_lw_strides(0u) + j * u_lw_strides(1u)); }' : ''}`,
      bindings: [wordRowsBinding('k'), ...(logWeights ? [{ name: 'lw', dtype: 'f32' as const, access: 'read' as const }] : [])],
      buffers: [k, ...(logWeights ? [logWeights] : [])],
      uniforms: [...strided('k', 3), ...(logWeights ? strided('lw', 2) : [])],
      values: { ...viewValues('k', k), ...(logWeights ? viewValues('lw', logWeights) : {}) },
    }),
  };
}

function denseValues(v: Tensor): KeyedSourceParts {
  const aligned = rowsAligned(v);
  return {
    key: `${v.dtype}:${aligned ? 'a' : 'u'}`,
    code: wordRowSource('value', 'v', v.dtype, 'u_dv()', aligned, 'u_v_offset() + kvh * u_v_strides(0u) + j * u_v_strides(1u)'),
    bindings: [wordRowsBinding('v')],
    buffers: [v],
    uniforms: strided('v', 3),
    values: viewValues('v', v),
  };
}

/** The tensor itself when its channels are contiguous (rows of words), else a contiguous copy. */
function withUnitChannels(t: Tensor): Tensor {
  return t.shape[t.rank - 1] <= 1 || t.strides[t.rank - 1] === 1 ? t : contiguous(t);
}

/** Runs `body` on k and v with unit channel strides, disposing the copies it needed. */
function onRows<T>(k: Tensor, v: Tensor, body: (k: Tensor, v: Tensor) => T): T {
  const [rk, rv] = [withUnitChannels(k), withUnitChannels(v)];
  try {
    return body(rk, rv);
  } finally {
    if (rk !== k) rk.dispose();
    if (rv !== v) rv.dispose();
  }
}

/**
 * Split-K decode attention in WGSL over dense K/V: one workgroup per (partition of keys, KV head,
 * chunk of query rows) streams its keys in tiles of 128 with an online softmax, reading K/V rows as
 * 16-byte words and sharing every element among the query heads of the KV head (GQA); a second
 * program merges the partitions by log-sum-exp. Views are read in place (offsets and strides are
 * uniforms) unless their channels are strided (then copied). Per-key statistics, when asked for,
 * take a second pass from the rows' lse.
 */
export function decodeAttentionWebGpu(backend: WebGpuBackend, inputs: DenseInputs, attrs: SplitKAttrs, where = 'decodeAttention'): KernelResult {
  const [q, k0, v0, qPos, kPos, logWeights] = inputs;
  return onRows(k0, v0, (k, v) => {
    const keys = denseKeys(k, qPos, kPos, logWeights);
    const values = denseValues(v);
    return withKeyStatistics(
      attrs,
      (a) => splitKDecode(backend, q, { kvHeads: k.shape[0], n: k.shape[1], dv: v.shape[2], partition: a.partitionSize }, a, where, () => keyValuePass(keys, values)),
      (lse) => denseStatistics(backend, q, k, keys, attrs, lse),
    );
  });
}

/** `attentionStatistics` in WGSL: the split-K decode with lse (V := K, its output unused), then the statistics pass. */
export function attentionStatisticsWebGpu(backend: WebGpuBackend, [q, k0, qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor?], attrs: KernelAttrs): KeyStatistics {
  return onRows(k0, k0, (k) => {
    const keys = denseKeys(k, qPos, kPos, logWeights);
    const values = denseValues(k);
    return statisticsOnly(
      attrs,
      (a) => splitKDecode(backend, q, { kvHeads: k.shape[0], n: k.shape[1], dv: k.shape[2], partition: a.partitionSize }, a, 'attentionStatistics', () => keyValuePass(keys, values)),
      (lse) => denseStatistics(backend, q, k, keys, attrs, lse),
    );
  });
}

function denseStatistics(backend: WebGpuBackend, q: Tensor, k: Tensor, keys: KeySource, attrs: KernelAttrs, lse: Tensor): KeyStatistics {
  const [qHeads] = q.shape;
  const [kvHeads, n] = k.shape;
  return keyStatisticsWebGpu(backend, q, lse, keys, { rows: qHeads, width: n, group: qHeads / kvHeads, headShape: [qHeads], kvShape: [kvHeads], target: FOLDED_TARGET }, attrs);
}

/**
 * Decode (or chunked prefill) through block tables in WGSL: the batch folds into the heads (KV row
 * b·kvHeads + head walks its own pages, ragged lengths), the same split-K pass over maxLength tokens
 * (partitions past a row's length are empty). Output [B, qHeads, m, dv]; statistics [B, qHeads, maxLength].
 */
export function pagedAttentionWebGpu(backend: WebGpuBackend, inputs: readonly Tensor[], attrs: KernelAttrs & { maxLength: number }): KernelResult {
  const where = 'pagedAttention';
  const [q, poolKeys, poolValues, poolPositions, table, lengths, qPos] = inputs;
  const [batch, qHeads, m, d] = q.shape;
  const [, pageSize] = poolKeys.shape;
  const dv = poolValues.shape[2];
  const kvHeads = table.shape[1];
  const folded = reshape(q, [batch * qHeads, m, d]);
  const valueRows = poolValues.isContiguous() ? poolValues : contiguous(poolValues);
  const paged = pagedKeys(poolKeys, poolPositions, table, lengths, qPos);
  try {
    const partition = Math.max(pageSize, Math.ceil(512 / pageSize) * pageSize);
    const { keys } = paged;
    const values = rowMajorValues('pv', valueRows, 'slot_of(kvh, j)');
    const result = withKeyStatistics(
      attrs,
      (a) => splitKDecode(backend, folded, { kvHeads: batch * kvHeads, n: attrs.maxLength, dv, partition }, a, where, () => keyValuePass(keys, values)),
      (lse) => pagedStatisticsWebGpu(backend, folded, lse, keys, batch, kvHeads, attrs),
    );
    return { ...unfoldBatch(result, batch, qHeads), ...(result.statistics ? { statistics: result.statistics } : {}) };
  } finally {
    folded.dispose();
    paged.dispose();
    if (valueRows !== poolValues) valueRows.dispose();
  }
}

/**
 * The keys of a page pool read through block tables (table [B, kvHeads, maxPages], lengths
 * [B, kvHeads], query positions [B, m]): KV row b·kvHeads + head walks its pages. Non-contiguous
 * inputs are copied; `dispose` releases the copies.
 */
export function pagedKeys(poolKeys: Tensor, poolPositions: Tensor, table: Tensor, lengths: Tensor, qPos: Tensor): { keys: KeySource; dispose(): void } {
  const given = [poolKeys, poolPositions, table, lengths, qPos];
  const keyBuffers = given.map((t) => (t.isContiguous() ? t : contiguous(t)));
  const names = ['pk', 'ppos', 'tab', 'lens', 'qp'];
  const aligned = rowsAligned(keyBuffers[0]);
  const keys: KeySource = {
    key: `paged:${poolKeys.dtype}:${aligned ? 'a' : 'u'}`,
    withLogWeights: false,
    code: PAGED_KEYS + wordRowSource('key', 'pk', poolKeys.dtype, 'u_d()', aligned, 'u_pk_offset() + slot_of(kvh, j) * u_d()'),
    bindings: names.map((name, i) => (i === 0 ? wordRowsBinding(name) : { name, dtype: keyBuffers[i].dtype, access: 'read' as const })),
    buffers: keyBuffers,
    uniforms: [...names.map((name) => `${name}_offset`), 'page_size', 'max_pages', 'kv_heads_per_request'].map((name) => ({ name, type: 'u32' as const })),
    values: { ...Object.fromEntries(names.map((name, i) => [`${name}_offset`, keyBuffers[i].offset])), page_size: poolKeys.shape[1], max_pages: table.shape[2], kv_heads_per_request: table.shape[1] },
  };
  return { keys, dispose: () => keyBuffers.forEach((t, i) => t !== given[i] && t.dispose()) };
}

/**
 * Per-key statistics through block tables (`pagedKeys`) from the rows' lse, for q folded to
 * [B·qHeads, m, d]: [B, qHeads, maxLength], queryCount [B, kvHeads, maxLength].
 */
export function pagedStatisticsWebGpu(backend: WebGpuBackend, folded: Tensor, lse: Tensor, keys: KeySource, batch: number, kvHeads: number, attrs: KernelAttrs & { maxLength: number }): KeyStatistics {
  const qHeads = folded.shape[0] / batch;
  const layout = { rows: batch * qHeads, width: attrs.maxLength, group: qHeads / kvHeads, headShape: [batch, qHeads], kvShape: [batch, kvHeads], target: FOLDED_TARGET };
  return keyStatisticsWebGpu(backend, folded, lse, keys, layout, attrs);
}

/**
 * Split-K decode in WGSL for a batch of requests with ragged K/V packed along the tokens (kvIndptr
 * [B+1]): the batch folds into the KV rows as for paged caches. The longest request is not known
 * on the host (the offsets live on the device), so the partitions cover all \`total\` tokens; those
 * past a request's end are empty. Output [B, qHeads, m, dv]; statistics [qHeads, total] in packed order.
 */
export function batchedDecodeAttentionWebGpu(backend: WebGpuBackend, inputs: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?], attrs: SplitKAttrs): KernelResult {
  const where = 'batchedDecodeAttention';
  const [q, , v] = inputs;
  const [batch, qHeads, m, d] = q.shape;
  const [kvHeads, total] = inputs[1].shape;
  const folded = reshape(q, [batch * qHeads, m, d]);
  const staged = inputs.slice(1).map((t) => (t === undefined || t.isContiguous() ? t : contiguous(t)));
  const [k, vs, qPos, kPos, indptr, lw] = staged as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?];
  const names = ['k', 'qp', 'kp', 'ip', ...(lw ? ['lw'] : [])];
  const keyBuffers = [k, qPos, kPos, indptr, ...(lw ? [lw] : [])];
  try {
    const aligned = rowsAligned(k);
    const keys: KeySource = {
      key: `ragged:${k.dtype}:${aligned ? 'a' : 'u'}:${lw ? 'lw' : 'plain'}`,
      withLogWeights: lw !== undefined,
      code:
        RAGGED_KEYS +
        wordRowSource('key', 'k', k.dtype, 'u_d()', aligned, 'u_k_offset() + ragged_row(kvh, j) * u_d()') +
        (lw ? 'fn log_weight(kvh: u32, j: u32) -> f32 { return lw_load(u_lw_offset() + ragged_row(kvh, j)); }' : ''),
      bindings: names.map((name, i) => (i === 0 ? wordRowsBinding(name) : { name, dtype: keyBuffers[i].dtype, access: 'read' as const })),
      buffers: keyBuffers,
      uniforms: [...names.map((name) => `${name}_offset`), 'total', 'kv_heads_per_request', 'heads_per_request', 'batch'].map((name) => ({ name, type: 'u32' as const })),
      values: { ...Object.fromEntries(names.map((name, i) => [`${name}_offset`, keyBuffers[i].offset])), total, kv_heads_per_request: kvHeads, heads_per_request: qHeads, batch },
    };
    const values = rowMajorValues('v', vs, 'ragged_row(kvh, j)');
    const result = withKeyStatistics(
      attrs,
      (a) => splitKDecode(backend, folded, { kvHeads: batch * kvHeads, n: total, dv: v.shape[2], partition: a.partitionSize }, a, where, () => keyValuePass(keys, values)),
      (lse) => keyStatisticsWebGpu(backend, folded, lse, keys, { rows: qHeads, width: total, group: qHeads / kvHeads, headShape: [qHeads], kvShape: [kvHeads], target: RAGGED_TARGET }, attrs),
    );
    return { ...unfoldBatch(result, batch, qHeads), ...(result.statistics ? { statistics: result.statistics } : {}) };
  } finally {
    folded.dispose();
    staged.forEach((t, i) => t !== inputs[i + 1] && t?.dispose());
  }
}

/** Values of a row-major buffer bound as \`name\` (16-byte words): token j of KV row kvh is row \`row\` (dv channels). */
function rowMajorValues(name: string, values: Tensor, row: string): KeyedSourceParts {
  const aligned = rowsAligned(values);
  return {
    key: `${values.dtype}:${aligned ? 'a' : 'u'}`,
    code: wordRowSource('value', name, values.dtype, 'u_dv()', aligned, `u_${name}_offset() + (${row}) * u_dv()`),
    bindings: [wordRowsBinding(name)],
    buffers: [values],
    uniforms: [{ name: `${name}_offset`, type: 'u32' }],
    values: { [`${name}_offset`]: values.offset },
  };
}

/** Packed ragged keys: KV row kvh = b·kvHeads + head reads tokens [indptr[b], indptr[b+1]) of that head (row-major buffers). */
const RAGGED_KEYS = `
fn ragged_start(kvh: u32) -> u32 { return u32(ip_load(u_ip_offset() + kvh / u_kv_heads_per_request())); }
fn ragged_row(kvh: u32, j: u32) -> u32 { return (kvh % u_kv_heads_per_request()) * u_total() + ragged_start(kvh) + j; }
fn kpos_at(kvh: u32, j: u32) -> i32 { return kp_load(u_kp_offset() + ragged_start(kvh) + j); }
fn qpos_at(kvh: u32, i: u32) -> i32 { return qp_load(u_qp_offset() + (kvh / u_kv_heads_per_request()) * u_m() + i); }
fn length_at(kvh: u32) -> u32 { return u32(ip_load(u_ip_offset() + kvh / u_kv_heads_per_request() + 1u)) - ragged_start(kvh); }
`;

/**
 * Statistics of a ragged batch are [qHeads, total], keys in packed order: column col belongs to the
 * last request b with indptr[b] ≤ col (empty requests share their start with the next one).
 */
const RAGGED_TARGET = `
fn stat_target(row: u32, col: u32) -> Target {
  var lo = 0u;
  var hi = u_batch();
  while (lo + 1u < hi) {
    let mid = (lo + hi) / 2u;
    if (u32(ip_load(u_ip_offset() + mid)) <= col) { lo = mid; } else { hi = mid; }
  }
  let kvr = lo * u_kv_heads_per_request() + row / u_group();
  return Target(lo * u_heads_per_request() + row, kvr, col - ragged_start(kvr), true);
}`;

/** Pool pages through the block table of KV row kvh = b·kvHeads + head (all buffers row-major). */
const PAGED_KEYS = `
fn slot_of(kvh: u32, j: u32) -> u32 {
  let page = u32(tab_load(u_tab_offset() + kvh * u_max_pages() + j / u_page_size()));
  return page * u_page_size() + j % u_page_size();
}
fn kpos_at(kvh: u32, j: u32) -> i32 { return ppos_load(u_ppos_offset() + slot_of(kvh, j)); }
fn qpos_at(kvh: u32, i: u32) -> i32 { return qp_load(u_qp_offset() + (kvh / u_kv_heads_per_request()) * u_m() + i); }
fn length_at(kvh: u32) -> u32 { return u32(lens_load(u_lens_offset() + kvh)); }`;
