import { InvalidConfigError, type Tensor } from '@kvkit/tensor-core';
import type { UniformField, UniformValues, WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type { SplitKAttrs } from '../cpu/split-k-decode.js';
import type { KernelResult } from '../ops/attention-types.js';
import { assertNoStatistics } from '../gpu/unsupported.js';

const WORKGROUP = 128;
/** Keys scored per tile. */
const TILE = 32;
/** Query rows per workgroup at most (each invocation keeps one accumulator per row). */
const MAX_ROWS = 8;
/** Workgroup-memory floats for the scaled query rows (rows · d) and the output accumulators (rows · dv). */
const Q_CAPACITY = 1024;
const ACC_CAPACITY = 2048;

/**
 * Query rows a workgroup takes: up to MAX_ROWS, as many as the workgroup memory holds for this
 * head dimension (d ≤ 1024 and dv ≤ 2048 are supported).
 */
function rowsPerWorkgroup(d: number, dv: number, where: string): number {
  const rows = Math.min(MAX_ROWS, Math.floor(Q_CAPACITY / Math.max(d, 1)), Math.floor(ACC_CAPACITY / Math.max(dv, 1)));
  if (rows < 1) throw new InvalidConfigError(`${where}: the WebGPU kernel supports head dims up to ${Q_CAPACITY} (keys) and ${ACC_CAPACITY} (values), got ${d} and ${dv}`);
  return rows;
}

const strided = (name: string, rank: number): UniformField[] => [
  { name: `${name}_offset`, type: 'u32' },
  { name: `${name}_strides`, type: 'u32', length: rank },
];

/** Offsets and strides of a view, as the uniforms of `strided` name them. */
function viewValues(name: string, t: Tensor): UniformValues {
  return { [`${name}_offset`]: t.offset, [`${name}_strides`]: t.strides };
}

const PARTIAL_CODE = (withLogWeights: boolean) => `
const TILE: u32 = ${TILE}u;
const ROWS: u32 = ${MAX_ROWS}u;
var<workgroup> qs: array<f32, ${Q_CAPACITY}>;
var<workgroup> acc: array<f32, ${ACC_CAPACITY}>;
var<workgroup> probs: array<f32, ${MAX_ROWS * TILE}>;
var<workgroup> row_max: array<f32, ${MAX_ROWS}>;
var<workgroup> row_sum: array<f32, ${MAX_ROWS}>;
var<workgroup> row_alpha: array<f32, ${MAX_ROWS}>;
fn visible(qp: i32, kp: i32) -> bool {
  if (u_causal() != 0u && kp > qp) { return false; }
  return u_window() == 0u || qp - kp < i32(u_window());
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= u_parts() * u_kvheads() * u_chunks()) { return; }
  let part = g % u_parts();
  let kvh = (g / u_parts()) % u_kvheads();
  let chunk = g / (u_parts() * u_kvheads());
  let d = u_d();
  let dv = u_dv();
  let rows = u_group() * u_m();
  let r0 = chunk * u_rows();
  let rc = min(u_rows(), rows - r0);
  let j0 = part * u_partition();
  let j1 = min(u_n(), j0 + u_partition());
  for (var e = lid; e < rc * d; e = e + ${WORKGROUP}u) {
    let r = r0 + e / d;
    let h = kvh * u_group() + r / u_m();
    qs[e] = q_load(u_q_offset() + h * u_q_strides(0u) + (r % u_m()) * u_q_strides(1u) + (e % d) * u_q_strides(2u)) * u_scale();
  }
  for (var e = lid; e < rc * dv; e = e + ${WORKGROUP}u) { acc[e] = 0.0; }
  if (lid < ROWS) {
    row_max[lid] = -inf_f32();
    row_sum[lid] = 0.0;
  }
  workgroupBarrier();
  let kb = u_k_offset() + kvh * u_k_strides(0u);
  let vb = u_v_offset() + kvh * u_v_strides(0u);
  for (var t0 = j0; t0 < j1; t0 = t0 + TILE) {
    let count = min(TILE, j1 - t0);
    // Scores of the tile (masked: −∞), one (row, key) pair per step.
    for (var e = lid; e < ROWS * TILE; e = e + ${WORKGROUP}u) {
      let r = e / TILE;
      let t = e % TILE;
      var s = -inf_f32();
      if (r < rc && t < count) {
        let j = t0 + t;
        let qp = qpos_load(u_qpos_offset() + ((r0 + r) % u_m()) * u_qpos_stride());
        if (visible(qp, kpos_load(u_kpos_offset() + j * u_kpos_stride()))) {
          let kr = kb + j * u_k_strides(1u);
          var dot = 0.0;
          for (var c = 0u; c < d; c = c + 1u) { dot = dot + qs[r * d + c] * k_load(kr + c * u_k_strides(2u)); }
          if (u_softcap() > 0.0) { dot = u_softcap() * tanh_acc(dot / u_softcap()); }
          ${withLogWeights ? 'dot = dot + lw_load(u_lw_offset() + kvh * u_lw_strides(0u) + j * u_lw_strides(1u));' : ''}
          s = dot;
        }
      }
      probs[e] = s;
    }
    workgroupBarrier();
    // Each row's new running max and the factor that rescales what it accumulated so far.
    if (lid < rc) {
      var mx = row_max[lid];
      for (var t = 0u; t < count; t = t + 1u) { mx = nan_max(mx, probs[lid * TILE + t]); }
      row_alpha[lid] = select(exp(row_max[lid] - mx), 1.0, mx == -inf_f32());
      row_max[lid] = mx;
    }
    workgroupBarrier();
    for (var e = lid; e < ROWS * TILE; e = e + ${WORKGROUP}u) {
      let r = e / TILE;
      let s = probs[e];
      probs[e] = select(exp(s - row_max[min(r, ROWS - 1u)]), 0.0, r >= rc || s == -inf_f32());
    }
    workgroupBarrier();
    if (lid < rc) {
      var sm = 0.0;
      for (var t = 0u; t < count; t = t + 1u) { sm = sm + probs[lid * TILE + t]; }
      row_sum[lid] = row_sum[lid] * row_alpha[lid] + sm;
    }
    // Output channels: each V element is read once and feeds every row of the workgroup.
    for (var c = lid; c < dv; c = c + ${WORKGROUP}u) {
      var a: array<f32, ${MAX_ROWS}>;
      for (var r = 0u; r < ROWS; r = r + 1u) { a[r] = select(0.0, acc[min(r, rc - 1u) * dv + c] * row_alpha[r], r < rc); }
      for (var t = 0u; t < count; t = t + 1u) {
        let x = v_load(vb + (t0 + t) * u_v_strides(1u) + c * u_v_strides(2u));
        for (var r = 0u; r < ROWS; r = r + 1u) { a[r] = a[r] + probs[r * TILE + t] * x; }
      }
      for (var r = 0u; r < rc; r = r + 1u) { acc[r * dv + c] = a[r]; }
    }
    workgroupBarrier();
  }
  let total_rows = u_heads() * u_m();
  for (var e = lid; e < rc * dv; e = e + ${WORKGROUP}u) {
    let rr = r0 + e / dv;
    let slot = part * total_rows + (kvh * u_group() + rr / u_m()) * u_m() + rr % u_m();
    pacc_store(slot * dv + e % dv, acc[e]);
  }
  if (lid < rc) {
    let rr = r0 + lid;
    let slot = part * total_rows + (kvh * u_group() + rr / u_m()) * u_m() + rr % u_m();
    pstat_store(2u * slot, row_max[lid]);
    pstat_store(2u * slot + 1u, row_sum[lid]);
  }
}`;

const MERGE_CODE = (withLse: boolean) => `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= u_rows()) { return; }
  var mx = -inf_f32();
  for (var p = 0u; p < u_parts(); p = p + 1u) { mx = nan_max(mx, pstat_load(2u * (p * u_rows() + row))); }
  var total = 0.0;
  for (var p = 0u; p < u_parts(); p = p + 1u) {
    let pm = pstat_load(2u * (p * u_rows() + row));
    if (pm != -inf_f32()) { total = total + pstat_load(2u * (p * u_rows() + row) + 1u) * exp(pm - mx); }
  }
  let none = mx == -inf_f32() || total == 0.0;
  for (var c = lid; c < u_dv(); c = c + ${WORKGROUP}u) {
    var value = 0.0;
    if (!none) {
      for (var p = 0u; p < u_parts(); p = p + 1u) {
        let slot = p * u_rows() + row;
        let pm = pstat_load(2u * slot);
        if (pm != -inf_f32()) { value = value + pacc_load(slot * u_dv() + c) * exp(pm - mx); }
      }
      value = value / total;
    }
    out_store(row * u_dv() + c, value);
  }
  ${withLse ? 'if (lid == 0u) { lse_store(row, select(mx + log(total), -inf_f32(), none)); }' : ''}
}`;

/** Split-K partial states: [parts, rows, dv] unnormalized outputs and [parts, rows, 2] (max, Σ exp). */
export interface WebGpuPartials {
  acc: Tensor;
  stat: Tensor;
  parts: number;
}

/**
 * Split-K decode attention in WGSL: one workgroup per (partition of keys, KV head, chunk of query
 * rows) streams its keys in tiles of 32 with an online softmax, sharing every K/V element among the
 * query heads of the KV head (GQA); a second program merges the partitions by log-sum-exp. Views of
 * any strides are read in place (offsets and strides are uniforms).
 */
export function decodeAttentionWebGpu(
  backend: WebGpuBackend,
  [q, k, v, qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?],
  attrs: SplitKAttrs,
): KernelResult {
  const where = 'decodeAttention';
  assertNoStatistics(attrs, where, 'WebGPU');
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const dv = v.shape[2];
  const rows = qHeads * m;
  const output = backend.empty([qHeads, m, dv], q.dtype);
  const lse = attrs.lse ? backend.empty([qHeads, m], 'f32') : undefined;
  if (rows === 0 || dv === 0) return lse ? { output, lse } : { output };
  const perGroup = rowsPerWorkgroup(d, dv, where);
  const parts = n === 0 ? 0 : Math.ceil(n / attrs.partitionSize);
  const partials: WebGpuPartials = {
    acc: backend.empty([Math.max(parts, 1), rows, dv], 'f32'),
    stat: backend.empty([Math.max(parts, 1), rows, 2], 'f32'),
    parts,
  };
  try {
    if (parts > 0) {
      const chunks = Math.ceil(((qHeads / kvHeads) * m) / perGroup);
      const withLogWeights = logWeights !== undefined;
      const program = backend.program(`attention-kernels:decode-partial:${q.dtype}:${k.dtype}:${withLogWeights ? 'lw' : 'plain'}`, () => ({
        bindings: [
          { name: 'q', dtype: q.dtype, access: 'read' },
          { name: 'k', dtype: k.dtype, access: 'read' },
          { name: 'v', dtype: v.dtype, access: 'read' },
          { name: 'qpos', dtype: 'i32', access: 'read' },
          { name: 'kpos', dtype: 'i32', access: 'read' },
          ...(withLogWeights ? [{ name: 'lw', dtype: 'f32' as const, access: 'read' as const }] : []),
          { name: 'pacc', dtype: 'f32', access: 'write' },
          { name: 'pstat', dtype: 'f32', access: 'write' },
        ],
        uniforms: [
          ...['m', 'n', 'd', 'dv', 'group', 'heads', 'kvheads', 'rows', 'chunks', 'parts', 'partition', 'causal', 'window'].map((name) => ({ name, type: 'u32' as const })),
          { name: 'scale', type: 'f32' },
          { name: 'softcap', type: 'f32' },
          ...strided('q', 3),
          ...strided('k', 3),
          ...strided('v', 3),
          ...(withLogWeights ? strided('lw', 2) : []),
          { name: 'qpos_offset', type: 'u32' },
          { name: 'qpos_stride', type: 'u32' },
          { name: 'kpos_offset', type: 'u32' },
          { name: 'kpos_stride', type: 'u32' },
        ],
        code: PARTIAL_CODE(withLogWeights),
      }));
      const values: UniformValues = {
        m,
        n,
        d,
        dv,
        group: qHeads / kvHeads,
        heads: qHeads,
        kvheads: kvHeads,
        rows: perGroup,
        chunks,
        parts,
        partition: attrs.partitionSize,
        causal: attrs.causal ? 1 : 0,
        window: attrs.window,
        scale: attrs.scale,
        softcap: attrs.softcap,
        ...viewValues('q', q),
        ...viewValues('k', k),
        ...viewValues('v', v),
        ...(logWeights ? viewValues('lw', logWeights) : {}),
        qpos_offset: qPos.offset,
        qpos_stride: qPos.strides[0],
        kpos_offset: kPos.offset,
        kpos_stride: kPos.strides[0],
      };
      const buffers = [q, k, v, qPos, kPos, ...(logWeights ? [logWeights] : []), partials.acc, partials.stat];
      backend.dispatch(program, buffers, values, backend.grid(parts * kvHeads * chunks));
    }
    mergePartialsWebGpu(backend, partials, output, lse);
  } finally {
    partials.acc.dispose();
    partials.stat.dispose();
  }
  return lse ? { output, lse } : { output };
}

/** Merges split-K partials into `output` [rows, dv] (row-major, any float dtype) and, when given, `lse` [rows]. */
export function mergePartialsWebGpu(backend: WebGpuBackend, partials: WebGpuPartials, output: Tensor, lse: Tensor | undefined): void {
  const [, rows, dv] = partials.acc.shape;
  const program = backend.program(`attention-kernels:decode-merge:${output.dtype}:${lse ? 'lse' : 'plain'}`, () => ({
    bindings: [
      { name: 'pacc', dtype: 'f32', access: 'read' },
      { name: 'pstat', dtype: 'f32', access: 'read' },
      { name: 'out', dtype: output.dtype, access: 'write' },
      ...(lse ? [{ name: 'lse', dtype: 'f32' as const, access: 'write' as const }] : []),
    ],
    uniforms: ['rows', 'parts', 'dv'].map((name) => ({ name, type: 'u32' as const })),
    code: MERGE_CODE(lse !== undefined),
  }));
  backend.dispatch(program, [partials.acc, partials.stat, output, ...(lse ? [lse] : [])], { rows, parts: partials.parts, dv }, backend.grid(rows));
}
