import { concat, reshape, type Tensor, tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { statisticsWeights } from '../gpu/statistics-weights.js';
import { statisticsOnly, zeroKeyStatistics } from '../gpu/with-statistics.js';
import type { KernelAttrs, KeyStatistics } from '../ops/attention-types.js';
import { decodeAttentionWebGpu } from './decode-attention.js';

const WORKGROUP = 128;

/** `attentionStatistics` in WGSL: the split-K decode with lse (V := K, its output unused), then `keyStatisticsWebGpu`. */
export function attentionStatisticsWebGpu(backend: WebGpuBackend, inputs: readonly [Tensor, Tensor, Tensor, Tensor, Tensor?], attrs: KernelAttrs): KeyStatistics {
  const [q, k, qPos, kPos, logWeights] = inputs;
  return statisticsOnly(
    attrs,
    (a) => decodeAttentionWebGpu(backend, [q, k, k, qPos, kPos, logWeights], a, 'attentionStatistics'),
    (lse) => keyStatisticsWebGpu(backend, inputs, attrs, lse),
  );
}

/**
 * Per-key statistics given each query row's log-sum-exp \`lse\` [qHeads, m] (from the
 * attention pass): one invocation per (query head h, key j) recomputes p = exp(score − lse) for every
 * contributing query that sees j: keySum += weight · p, keyMax = max p, probability rows of the last
 * queries, and (first head of each group) the visible-query count per KV head. Views are read in place.
 */
export function keyStatisticsWebGpu(backend: WebGpuBackend, [q, k, qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor?], attrs: KernelAttrs, lse: Tensor): KeyStatistics {
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const stats = attrs.statistics;
  const probRows = stats.rowProbabilities;
  const result = zeroKeyStatistics(backend, qHeads, kvHeads, n, probRows);
  const { keySum, keyMax, queryCount } = result;
  // A 1-element placeholder keeps one binding layout when no probability rows are asked for.
  const rowProbs = result.rowProbabilities ?? backend.zeros([1], 'f32');
  const { first, firstRow, weights } = statisticsWeights(stats, m);
  // The rows' lse and the query weights share one binding (lse first), so the program binds at most 10 buffers.
  const weightT = tensor(weights, [weights.length], { backend });
  const lseFlat = reshape(lse, [lse.size]);
  const rowData = concat([lseFlat, weightT], 0);
  try {
    if (qHeads * m * n > 0) {
      const withLogWeights = logWeights !== undefined;
      const program = backend.program(`attention-kernels:key-statistics:${q.dtype}:${k.dtype}:${withLogWeights ? 'lw' : 'plain'}`, () => ({
        bindings: [
          { name: 'q', dtype: q.dtype, access: 'read' },
          { name: 'k', dtype: k.dtype, access: 'read' },
          { name: 'qpos', dtype: 'i32', access: 'read' },
          { name: 'kpos', dtype: 'i32', access: 'read' },
          ...(withLogWeights ? [{ name: 'lw', dtype: 'f32' as const, access: 'read' as const }] : []),
          { name: 'rowdata', dtype: 'f32', access: 'read' },
          { name: 'ksum', dtype: 'f32', access: 'write' },
          { name: 'kmax', dtype: 'f32', access: 'write' },
          { name: 'qcount', dtype: 'f32', access: 'write' },
          { name: 'probs', dtype: 'f32', access: 'write' },
        ],
        uniforms: [
          ...['heads', 'group', 'm', 'n', 'd', 'causal', 'window', 'first', 'first_row', 'prob_rows'].map((name) => ({ name, type: 'u32' as const })),
          { name: 'scale', type: 'f32' },
          { name: 'softcap', type: 'f32' },
          ...['q', 'k', ...(withLogWeights ? ['lw'] : [])].flatMap((name) => [
            { name: `${name}_offset`, type: 'u32' as const },
            { name: `${name}_strides`, type: 'u32' as const, length: name === 'lw' ? 2 : 3 },
          ]),
          ...['qpos_offset', 'qpos_stride', 'kpos_offset', 'kpos_stride'].map((name) => ({ name, type: 'u32' as const })),
        ],
        code: `
fn visible(qp: i32, kp: i32) -> bool {
  if (u_causal() != 0u && kp > qp) { return false; }
  return u_window() == 0u || qp - kp < i32(u_window());
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (e >= u_heads() * u_n()) { return; }
  let h = e / u_n();
  let j = e % u_n();
  let kvh = h / u_group();
  let kp = kpos_load(u_kpos_offset() + j * u_kpos_stride());
  let kb = u_k_offset() + kvh * u_k_strides(0u) + j * u_k_strides(1u);
  var total = 0.0;
  var best = 0.0;
  var count = 0.0;
  for (var i = u_first(); i < u_m(); i = i + 1u) {
    if (!visible(qpos_load(u_qpos_offset() + i * u_qpos_stride()), kp)) { continue; }
    count = count + 1.0;
    let l = rowdata_load(h * u_m() + i);
    if (l == -inf_f32()) { continue; }
    let qb = u_q_offset() + h * u_q_strides(0u) + i * u_q_strides(1u);
    var s = 0.0;
    for (var c = 0u; c < u_d(); c = c + 1u) { s = s + q_load(qb + c * u_q_strides(2u)) * u_scale() * k_load(kb + c * u_k_strides(2u)); }
    if (u_softcap() > 0.0) { s = u_softcap() * tanh_acc(s / u_softcap()); }
    ${withLogWeights ? 's = s + lw_load(u_lw_offset() + kvh * u_lw_strides(0u) + j * u_lw_strides(1u));' : ''}
    let p = exp(s - l);
    total = total + rowdata_load(u_heads() * u_m() + i) * p;
    if (p > best) { best = p; }
    if (u_prob_rows() > 0u && i >= u_first_row()) { probs_store((h * u_prob_rows() + i - u_first_row()) * u_n() + j, p); }
  }
  ksum_store(e, total);
  kmax_store(e, best);
  if (h % u_group() == 0u) { qcount_store(kvh * u_n() + j, count); }
}`,
      }));
      backend.dispatch(
        program,
        [q, k, qPos, kPos, ...(logWeights ? [logWeights] : []), rowData, keySum, keyMax, queryCount, rowProbs],
        {
          heads: qHeads, group: qHeads / kvHeads, m, n, d, causal: attrs.causal ? 1 : 0, window: attrs.window,
          first, first_row: Math.max(firstRow, 0), prob_rows: probRows, scale: attrs.scale, softcap: attrs.softcap,
          q_offset: q.offset, q_strides: q.strides, k_offset: k.offset, k_strides: k.strides,
          ...(logWeights ? { lw_offset: logWeights.offset, lw_strides: logWeights.strides } : {}),
          qpos_offset: qPos.offset, qpos_stride: qPos.strides[0], kpos_offset: kPos.offset, kpos_stride: kPos.strides[0],
        },
        backend.grid(Math.ceil((qHeads * n) / WORKGROUP)),
      );
    }
  } finally {
    for (const t of [weightT, lseFlat, rowData]) t.dispose();
    if (probRows === 0) rowProbs.dispose();
  }
  return result;
}
