import { concat, contiguous, reshape, slice, type Tensor, tensor, zeros } from '@kvkit/tensor-core';
import type { UniformField, UniformValues, WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { statisticsWeights } from '../gpu/statistics-weights.js';
import type { KernelAttrs, KeyStatistics } from '../ops/attention-types.js';
import { type SourceParts, strided, viewValues } from './split-k.js';

const WORKGROUP = 128;

/** The keys a statistics pass reads: a split-K source's key part (\`key_at\`, \`kpos_at\`, \`qpos_at\`, \`length_at\`, \`log_weight\`). */
export interface KeySource extends SourceParts {
  /** Cache key of the variant (dtypes, options). */
  key: string;
  withLogWeights: boolean;
}

/**
 * How the statistics' rows and columns map onto KV rows and keys. The output is [rows, width]
 * (keySum, keyMax; probability rows [rows, probRows, width]; queryCount [rows / group, width]).
 * \`target\` defines \`stat_target(row, col) -> Target\`: the folded query head whose probabilities go
 * there, its KV row, the key's index in that row, and whether the cell holds a key at all.
 */
export interface StatisticsLayout {
  rows: number;
  width: number;
  group: number;
  headShape: number[];
  kvShape: number[];
  target: string;
}

/** One sequence, or a batch folded into the heads (paged): row = folded query head, column = key of its KV row (zeros past the row's length). */
export const FOLDED_TARGET = `
fn stat_target(row: u32, col: u32) -> Target {
  let kvr = row / u_group();
  return Target(row, kvr, col, col < length_at(kvr));
}`;

/**
 * Per-key statistics given each query row's log-sum-exp \`lse\` (from the attention pass): one
 * invocation per output cell (query head, key) recomputes p = exp(score − lse) for every
 * contributing query that sees the key: keySum += weight · p, keyMax = max p, probability rows of
 * the last queries, and (first head of each group) the visible-query count per KV row. q is
 * [folded heads, m, d] (any strides). The four outputs share one binding (so a source may bind up to
 * five buffers within a 10-binding stage) and are copied out at the end.
 */
export function keyStatisticsWebGpu(backend: WebGpuBackend, q: Tensor, lse: Tensor, source: KeySource, layout: StatisticsLayout, attrs: KernelAttrs): KeyStatistics {
  const [heads, m, d] = q.shape;
  const { rows, width, group } = layout;
  const stats = attrs.statistics;
  const probRows = stats.rowProbabilities;
  const cells = rows * width;
  const kvRows = rows / group;
  const bases = { kmax: cells, qcount: 2 * cells, probs: 2 * cells + kvRows * width };
  const all = zeros([bases.probs + rows * probRows * width], { dtype: 'f32', backend });
  const { first, firstRow, weights } = statisticsWeights(stats, m);
  // The rows' lse and the query weights share one binding (lse first).
  const weightT = tensor(weights, [weights.length], { backend });
  const lseFlat = reshape(lse, [lse.size]);
  const rowData = concat([lseFlat, weightT], 0);
  try {
    if (cells > 0 && heads * m > 0) {
      const program = backend.program(`attention-kernels:key-statistics:${q.dtype}:${source.key}:${layout.target === FOLDED_TARGET ? 'folded' : 'ragged'}`, () => ({
        bindings: [{ name: 'q', dtype: q.dtype, access: 'read' }, ...source.bindings, { name: 'rowdata', dtype: 'f32', access: 'read' }, { name: 'stats', dtype: 'f32', access: 'write' }],
        uniforms: [...STATISTICS_FIELDS, ...source.uniforms],
        code: STATISTICS_CODE(source.code, layout.target, source.withLogWeights),
      }));
      const values: UniformValues = {
        rows_out: rows, width, group, m, n: width, d, causal: attrs.causal ? 1 : 0, window: attrs.window,
        first, first_row: Math.max(firstRow, 0), prob_rows: probRows, lse_count: heads * m,
        kmax_base: bases.kmax, qcount_base: bases.qcount, probs_base: bases.probs,
        scale: attrs.scale, softcap: attrs.softcap, ...viewValues('q', q), ...source.values,
      };
      backend.dispatch(program, [q, ...source.buffers, rowData, all], values, backend.grid(Math.ceil(cells / WORKGROUP)));
    }
    const part = (at: number, shape: number[]): Tensor => {
      const view = slice(all, [at], [at + shape.reduce((a, b) => a * b, 1)]);
      const copy = contiguous(view);
      view.dispose();
      const out = reshape(copy, shape);
      copy.dispose();
      return out;
    };
    const result: KeyStatistics = {
      keySum: part(0, [...layout.headShape, width]),
      keyMax: part(bases.kmax, [...layout.headShape, width]),
      queryCount: part(bases.qcount, [...layout.kvShape, width]),
    };
    if (probRows > 0) result.rowProbabilities = part(bases.probs, [...layout.headShape, probRows, width]);
    return result;
  } finally {
    for (const t of [all, weightT, lseFlat, rowData]) t.dispose();
  }
}

const STATISTICS_FIELDS: UniformField[] = [
  ...['rows_out', 'width', 'group', 'm', 'n', 'd', 'causal', 'window', 'first', 'first_row', 'prob_rows', 'lse_count', 'kmax_base', 'qcount_base', 'probs_base'].map((name) => ({ name, type: 'u32' as const })),
  { name: 'scale', type: 'f32' },
  { name: 'softcap', type: 'f32' },
  ...strided('q', 3),
];

const STATISTICS_CODE = (source: string, target: string, withLogWeights: boolean) => `
struct Target { head: u32, kvr: u32, j: u32, ok: bool }
${source}
${target}
fn visible(qp: i32, kp: i32) -> bool {
  if (u_causal() != 0u && kp > qp) { return false; }
  return u_window() == 0u || qp - kp < i32(u_window());
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (e >= u_rows_out() * u_width()) { return; }
  let row = e / u_width();
  let col = e % u_width();
  let t = stat_target(row, col);
  if (!t.ok) { return; }
  let kp = kpos_at(t.kvr, t.j);
  var total = 0.0;
  var best = 0.0;
  var count = 0.0;
  for (var i = u_first(); i < u_m(); i = i + 1u) {
    if (!visible(qpos_at(t.kvr, i), kp)) { continue; }
    count = count + 1.0;
    let l = rowdata_load(t.head * u_m() + i);
    if (l == -inf_f32()) { continue; }
    let qb = u_q_offset() + t.head * u_q_strides(0u) + i * u_q_strides(1u);
    var s = 0.0;
    for (var c = 0u; c < u_d(); c = c + 1u) { s = s + q_load(qb + c * u_q_strides(2u)) * u_scale() * key_at(t.kvr, t.j, c); }
    if (u_softcap() > 0.0) { s = u_softcap() * tanh_acc(s / u_softcap()); }
    ${withLogWeights ? 's = s + log_weight(t.kvr, t.j);' : ''}
    let p = exp(s - l);
    total = total + rowdata_load(u_lse_count() + i) * p;
    if (p > best) { best = p; }
    if (u_prob_rows() > 0u && i >= u_first_row()) { stats_store(u_probs_base() + (row * u_prob_rows() + i - u_first_row()) * u_width() + col, p); }
  }
  stats_store(e, total);
  stats_store(u_kmax_base() + e, best);
  if (row % u_group() == 0u) { stats_store(u_qcount_base() + (row / u_group()) * u_width() + col, count); }
}`;
