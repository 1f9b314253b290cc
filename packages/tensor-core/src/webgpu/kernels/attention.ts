import type { AttentionAttrs, AttentionResult } from '../../ops/attention.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import type { UniformField, UniformValues } from '../wgsl/uniforms.js';

const WORKGROUP = 128;
/** Output channels each invocation accumulates per pass (dv above WORKGROUP·4 takes several passes). */
const CHANNELS = 4;

/**
 * The reference attention (grouped-query, causal/window masks from positions, soft-cap) for
 * views of any strides: one workgroup per (query head, query). Pass 1 finds the row's max and
 * sum of exponentials online (NaN propagates, as on the CPU); pass 2 walks the keys in chunks of
 * 128, staging probabilities in workgroup memory while invocations accumulate output channels.
 * A query that sees no key outputs zeros. With statistics, a second kernel (one invocation per
 * (head, key)) recomputes each probability from the row max/sum to get Σ and max over queries.
 * This is the correctness reference; fused/flash kernels live in @kvkit/attention-kernels.
 */
export function attentionTensor(backend: WebGpuBackend, inputs: readonly [Tensor, Tensor, Tensor, Tensor, Tensor], attrs: AttentionAttrs): AttentionResult {
  const [q, k, v, qPos, kPos] = inputs;
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const dv = v.shape[2];
  const output = backend.empty([qHeads, m, dv], q.dtype);
  const rowStats = attrs.statistics ? backend.empty([qHeads * m * 2], 'f32') : undefined;
  const lse = attrs.lse ? backend.empty([qHeads, m], 'f32') : undefined;
  const fields: UniformField[] = [
    { name: 'm', type: 'u32' },
    { name: 'n', type: 'u32' },
    { name: 'd', type: 'u32' },
    { name: 'dv', type: 'u32' },
    { name: 'group', type: 'u32' },
    { name: 'heads', type: 'u32' },
    { name: 'causal', type: 'u32' },
    { name: 'window', type: 'u32' },
    { name: 'scale', type: 'f32' },
    { name: 'softcap', type: 'f32' },
    ...['q', 'k', 'v'].flatMap((name) => [
      { name: `${name}_offset`, type: 'u32' as const },
      { name: `${name}_strides`, type: 'u32' as const, length: 3 },
    ]),
    ...['qpos', 'kpos'].flatMap((name) => [
      { name: `${name}_offset`, type: 'u32' as const },
      { name: `${name}_stride`, type: 'u32' as const },
    ]),
  ];
  const values: UniformValues = {
    m,
    n,
    d,
    dv,
    group: qHeads / kvHeads,
    heads: qHeads,
    causal: attrs.causal ? 1 : 0,
    window: attrs.window,
    scale: attrs.scale,
    softcap: attrs.softcap,
    q_offset: q.offset,
    q_strides: q.strides,
    k_offset: k.offset,
    k_strides: k.strides,
    v_offset: v.offset,
    v_strides: v.strides,
    qpos_offset: qPos.offset,
    qpos_stride: qPos.strides[0],
    kpos_offset: kPos.offset,
    kpos_stride: kPos.strides[0],
  };
  const common = `fn qpos_get(i: u32) -> i32 { return qpos_load(u_qpos_offset() + i * u_qpos_stride()); }
fn kpos_get(j: u32) -> i32 { return kpos_load(u_kpos_offset() + j * u_kpos_stride()); }
fn visible(qp: i32, kp: i32) -> bool {
  if (u_causal() != 0u && kp > qp) { return false; }
  return u_window() == 0u || qp - kp < i32(u_window());
}
// Scaled (and soft-capped) score of query element base qb against key element base kb.
fn score(qb: u32, kb: u32) -> f32 {
  var s = 0.0;
  for (var c = 0u; c < u_d(); c = c + 1u) { s = s + q_load(qb + c * u_q_strides(2u)) * k_load(kb + c * u_k_strides(2u)); }
  s = s * u_scale();
  if (u_softcap() > 0.0) { s = u_softcap() * tanh_acc(s / u_softcap()); }
  return s;
}`;
  if (qHeads * m > 0) {
    const stats = rowStats !== undefined;
    const rows = backend.program(`attention:rows:${q.dtype}:${k.dtype}:${stats ? 'stats' : 'plain'}${lse ? ':lse' : ''}`, () => ({
      bindings: [
        { name: 'q', dtype: q.dtype, access: 'read' },
        { name: 'k', dtype: k.dtype, access: 'read' },
        { name: 'v', dtype: v.dtype, access: 'read' },
        { name: 'qpos', dtype: 'i32', access: 'read' },
        { name: 'kpos', dtype: 'i32', access: 'read' },
        { name: 'out', dtype: q.dtype, access: 'write' },
        ...(stats ? [{ name: 'rowstat', dtype: 'f32' as const, access: 'write' as const }] : []),
        ...(lse ? [{ name: 'lse', dtype: 'f32' as const, access: 'write' as const }] : []),
      ],
      uniforms: fields,
      code: `${common}
var<workgroup> run_max: array<f32, ${WORKGROUP}>;
var<workgroup> run_sum: array<f32, ${WORKGROUP}>;
var<workgroup> probs: array<f32, ${WORKGROUP}>;
// Merges two (max, Σ exp(s − max)) pairs; NaN is sticky, an empty side (max −∞) adds nothing.
fn merge(m1: f32, s1: f32, m2: f32, s2: f32) -> vec2<f32> {
  if (is_nan(m1) || is_nan(m2)) { return vec2<f32>(m1 + m2, s1 + s2); }
  let mx = max(m1, m2);
  if (mx == -inf_f32()) { return vec2<f32>(mx, 0.0); }
  return vec2<f32>(mx, s1 * exp(m1 - mx) + s2 * exp(m2 - mx));
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= u_heads() * u_m()) { return; }
  let h = g / u_m();
  let i = g % u_m();
  let kvh = h / u_group();
  let qb = u_q_offset() + h * u_q_strides(0u) + i * u_q_strides(1u);
  let kb = u_k_offset() + kvh * u_k_strides(0u);
  let vb = u_v_offset() + kvh * u_v_strides(0u);
  let qp = qpos_get(i);
  var mx = -inf_f32();
  var sm = 0.0;
  for (var j = lid; j < u_n(); j = j + ${WORKGROUP}u) {
    if (!visible(qp, kpos_get(j))) { continue; }
    let pair = merge(mx, sm, score(qb, kb + j * u_k_strides(1u)), 1.0);
    mx = pair.x;
    sm = pair.y;
  }
  run_max[lid] = mx;
  run_sum[lid] = sm;
  workgroupBarrier();
  for (var s = ${WORKGROUP / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let pair = merge(run_max[lid], run_sum[lid], run_max[lid + s], run_sum[lid + s]);
      run_max[lid] = pair.x;
      run_sum[lid] = pair.y;
    }
    workgroupBarrier();
  }
  let row_max = run_max[0];
  let row_sum = run_sum[0];
  ${stats ? 'if (lid == 0u) { rowstat_store(2u * g, row_max); rowstat_store(2u * g + 1u, row_sum); }' : ''}
  let none = row_max == -inf_f32();
  ${lse ? 'if (lid == 0u) { lse_store(g, select(row_max + log(row_sum), row_max, none)); } // the log-sum-exp; −∞ where no key is seen' : ''}
  let ob = g * u_dv();
  for (var c0 = 0u; c0 < u_dv(); c0 = c0 + ${WORKGROUP * CHANNELS}u) {
    var acc = array<f32, ${CHANNELS}>(${Array(CHANNELS).fill('0.0').join(', ')});
    for (var j0 = 0u; j0 < u_n(); j0 = j0 + ${WORKGROUP}u) {
      let j = j0 + lid;
      var p = 0.0;
      if (!none && j < u_n() && visible(qp, kpos_get(j))) { p = exp(score(qb, kb + j * u_k_strides(1u)) - row_max) / row_sum; }
      workgroupBarrier();
      probs[lid] = p;
      workgroupBarrier();
      let count = min(${WORKGROUP}u, u_n() - j0);
      for (var t = 0u; t < count; t = t + 1u) {
        let pt = probs[t];
        let vr = vb + (j0 + t) * u_v_strides(1u);
        for (var r = 0u; r < ${CHANNELS}u; r = r + 1u) {
          let c = c0 + r * ${WORKGROUP}u + lid;
          if (c < u_dv()) { acc[r] = acc[r] + pt * v_load(vr + c * u_v_strides(2u)); }
        }
      }
    }
    for (var r = 0u; r < ${CHANNELS}u; r = r + 1u) {
      let c = c0 + r * ${WORKGROUP}u + lid;
      if (c < u_dv()) { out_store(ob + c, acc[r]); }
    }
  }
}`,
    }));
    backend.dispatch(rows, [q, k, v, qPos, kPos, output, ...(rowStats ? [rowStats] : []), ...(lse ? [lse] : [])], values, backend.grid(qHeads * m));
  }
  const rowLse = lse ? { lse } : {};
  if (!rowStats) return { output, ...rowLse };
  const keySum = backend.empty([qHeads, n], 'f32');
  const keyMax = backend.empty([qHeads, n], 'f32');
  try {
    const perKey = backend.program(`attention:keystats:${q.dtype}:${k.dtype}`, () => ({
      bindings: [
        { name: 'q', dtype: q.dtype, access: 'read' },
        { name: 'k', dtype: k.dtype, access: 'read' },
        { name: 'qpos', dtype: 'i32', access: 'read' },
        { name: 'kpos', dtype: 'i32', access: 'read' },
        { name: 'rowstat', dtype: 'f32', access: 'read' },
        { name: 'keysum', dtype: 'f32', access: 'write' },
        { name: 'keymax', dtype: 'f32', access: 'write' },
      ],
      uniforms: fields,
      code: `${common}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (g >= u_heads() * u_n()) { return; }
  let h = g / u_n();
  let j = g % u_n();
  let kr = u_k_offset() + (h / u_group()) * u_k_strides(0u) + j * u_k_strides(1u);
  let kp = kpos_get(j);
  var total = 0.0;
  var best = 0.0;
  for (var i = 0u; i < u_m(); i = i + 1u) {
    if (!visible(qpos_get(i), kp)) { continue; }
    let r = h * u_m() + i;
    let p = exp(score(u_q_offset() + h * u_q_strides(0u) + i * u_q_strides(1u), kr) - rowstat_load(2u * r)) / rowstat_load(2u * r + 1u);
    total = total + p;
    if (p > best) { best = p; }
  }
  keysum_store(g, total);
  keymax_store(g, best);
}`,
    }));
    backend.dispatch(perKey, [q, k, qPos, kPos, rowStats, keySum, keyMax], values, backend.grid(Math.ceil((qHeads * n) / WORKGROUP)));
    return { output, ...rowLse, statistics: { keySum, keyMax } };
  } finally {
    rowStats.dispose();
  }
}
