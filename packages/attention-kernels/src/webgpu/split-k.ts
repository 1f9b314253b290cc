import { InvalidConfigError, type Tensor } from '@kvkit/tensor-core';
import type { TensorBindingSpec, UniformField, UniformValues, WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { planSplitK } from '../gpu/split-k-plan.js';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';

const WORKGROUP = 128;
/** Keys scored per tile (each by WORKGROUP / TILE invocations). */
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

export const strided = (name: string, rank: number): UniformField[] => [
  { name: `${name}_offset`, type: 'u32' },
  { name: `${name}_strides`, type: 'u32', length: rank },
];

/** Offsets and strides of a view, as the uniforms of `strided` name them. */
export function viewValues(name: string, t: Tensor): UniformValues {
  return { [`${name}_offset`]: t.offset, [`${name}_strides`]: t.strides };
}

/**
 * Pass 1 of split-K decode over a key/value source: \`source\` defines \`key_at(kvh, j, c)\` and
 * \`value_at(kvh, j, c)\` (element c of token j of KV row kvh, as f32), \`kpos_at(kvh, j)\` and,
 * with log weights, \`log_weight(kvh, j)\`; \`rows\` (default \`STANDARD_ROWS\`) says which query rows
 * a KV row serves, where they and their partial results live, and which keys a partition covers.
 * Partials go to one f32 buffer \`part\`: unnormalized outputs [part_slots, dv], then (max, Σ exp)
 * [part_slots, 2] (one binding: the KIVI variant needs every other one the device allows).
 */
const PARTIAL_CODE = (source: string, rows: string, withLogWeights: boolean) => `${source}
${rows}
const TILE: u32 = ${TILE}u;
const SPLIT: u32 = ${WORKGROUP / TILE}u;
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
  let rows = rows_of(kvh);
  let r0 = chunk * u_rows();
  // Workgroup-uniform: row chunks past this KV row's rows and partitions it does not own do nothing.
  if (r0 >= rows || !part_active(part, kvh)) { return; }
  let rc = min(u_rows(), rows - r0);
  let keys = part_keys(part, kvh);
  let j0 = keys.x;
  let j1 = keys.y;
  for (var e = lid; e < rc * d; e = e + ${WORKGROUP}u) {
    qs[e] = q_load(q_row(kvh, r0 + e / d) + (e % d) * u_q_strides(2u)) * u_scale();
  }
  for (var e = lid; e < rc * dv; e = e + ${WORKGROUP}u) { acc[e] = 0.0; }
  if (lid < ROWS) {
    row_max[lid] = -inf_f32();
    row_sum[lid] = 0.0;
  }
  workgroupBarrier();
  for (var t0 = j0; t0 < j1; t0 = t0 + TILE) {
    let count = min(TILE, j1 - t0);
    // Dot products of the tile: SPLIT invocations per key, each over every SPLIT-th channel and
    // every row at once, so each key element is read once (not once per row) and adjacent
    // invocations read adjacent elements; the SPLIT partial sums meet in probs in turn.
    let tile_key = lid / SPLIT;
    let split_lane = lid % SPLIT;
    var dots: array<f32, ${MAX_ROWS}>;
    for (var r = 0u; r < ROWS; r = r + 1u) { dots[r] = 0.0; }
    if (tile_key < count) {
      for (var c = split_lane; c < d; c = c + SPLIT) {
        let kc = key_at(kvh, t0 + tile_key, c);
        for (var r = 0u; r < ROWS; r = r + 1u) {
          if (r < rc) { dots[r] = dots[r] + qs[r * d + c] * kc; }
        }
      }
    }
    for (var turn = 0u; turn < SPLIT; turn = turn + 1u) {
      if (split_lane == turn) {
        for (var r = 0u; r < rc; r = r + 1u) { probs[r * TILE + tile_key] = select(probs[r * TILE + tile_key] + dots[r], dots[r], turn == 0u); }
      }
      workgroupBarrier();
    }
    // Scores of the tile (masked: −∞), one (row, key) pair per step.
    for (var e = lid; e < ROWS * TILE; e = e + ${WORKGROUP}u) {
      let r = e / TILE;
      let t = e % TILE;
      var s = -inf_f32();
      if (r < rc && t < count) {
        let j = t0 + t;
        if (visible(row_qpos(kvh, r0 + r), kpos_at(kvh, j))) {
          var dot = probs[e];
          if (u_softcap() > 0.0) { dot = u_softcap() * tanh_acc(dot / u_softcap()); }
          ${withLogWeights ? 'dot = dot + log_weight(kvh, j);' : ''}
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
        let x = value_at(kvh, t0 + t, c);
        for (var r = 0u; r < ROWS; r = r + 1u) { a[r] = a[r] + probs[r * TILE + t] * x; }
      }
      for (var r = 0u; r < rc; r = r + 1u) { acc[r * dv + c] = a[r]; }
    }
    workgroupBarrier();
  }
  for (var e = lid; e < rc * dv; e = e + ${WORKGROUP}u) {
    part_store(partial_slot(part, kvh, r0 + e / dv) * dv + e % dv, acc[e]);
  }
  if (lid < rc) {
    let stat = u_part_slots() * dv + 2u * partial_slot(part, kvh, r0 + lid);
    part_store(stat, row_max[lid]);
    part_store(stat + 1u, row_sum[lid]);
  }
}`;

/**
 * The row mapping of one sequence (dense, KIVI) or of a batch folded into the KV rows (paged,
 * ragged): KV row kvh serves the \`group\` query heads of its KV head × m queries, row rr = g·m + i;
 * the partial of partition p for that row goes to slot p·heads·m + (kvh·group + g)·m + i; partition
 * p covers keys [p·partition, +partition) of the row's \`length_at(kvh)\`. Sources define
 * \`qpos_at(kvh, i)\` and \`length_at(kvh)\` for it.
 */
export const STANDARD_ROWS = `
fn rows_of(kvh: u32) -> u32 { return u_group() * u_m(); }
fn q_row(kvh: u32, rr: u32) -> u32 { return u_q_offset() + (kvh * u_group() + rr / u_m()) * u_q_strides(0u) + (rr % u_m()) * u_q_strides(1u); }
fn row_qpos(kvh: u32, rr: u32) -> i32 { return qpos_at(kvh, rr % u_m()); }
fn partial_slot(part: u32, kvh: u32, rr: u32) -> u32 { return part * u_heads() * u_m() + (kvh * u_group() + rr / u_m()) * u_m() + rr % u_m(); }
fn part_active(part: u32, kvh: u32) -> bool { return true; }
fn part_keys(part: u32, kvh: u32) -> vec2<u32> {
  let j0 = part * u_partition();
  return vec2<u32>(j0, min(length_at(kvh), j0 + u_partition()));
}`;

const MERGE_CODE = (withLse: boolean) => `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= u_rows()) { return; }
  let stats = u_parts() * u_rows() * u_dv();
  var mx = -inf_f32();
  for (var p = 0u; p < u_parts(); p = p + 1u) { mx = nan_max(mx, part_load(stats + 2u * (p * u_rows() + row))); }
  var total = 0.0;
  for (var p = 0u; p < u_parts(); p = p + 1u) {
    let pm = part_load(stats + 2u * (p * u_rows() + row));
    if (pm != -inf_f32()) { total = total + part_load(stats + 2u * (p * u_rows() + row) + 1u) * exp(pm - mx); }
  }
  let none = mx == -inf_f32() || total == 0.0;
  for (var c = lid; c < u_dv(); c = c + ${WORKGROUP}u) {
    var value = 0.0;
    if (!none) {
      for (var p = 0u; p < u_parts(); p = p + 1u) {
        let slot = p * u_rows() + row;
        let pm = part_load(stats + 2u * slot);
        if (pm != -inf_f32()) { value = value + part_load(slot * u_dv() + c) * exp(pm - mx); }
      }
      value = value / total;
    }
    out_store(row * u_dv() + c, value);
  }
  ${withLse ? 'if (lid == 0u) { lse_store(row, select(mx + log(total), -inf_f32(), none)); }' : ''}
}`;

/** Pass 1 of one split-K launch, as a kernel's source-specific part describes it. */
export interface SourcePass {
  /** Cache key of the source variant (dtypes, options). */
  key: string;
  /** Defines `key_at` and `value_at`. */
  code: string;
  /** Source buffers, bound after q. */
  bindings: TensorBindingSpec[];
  buffers: Tensor[];
  uniforms: UniformField[];
  values: UniformValues;
  withLogWeights: boolean;
  /** Row mapping (\`rows_of\`, \`q_row\`, \`row_qpos\`, \`partial_slot\`, \`part_active\`, \`part_keys\`); default \`STANDARD_ROWS\`. */
  rows?: string;
  /** Copies made for this launch, disposed once it is recorded. */
  temporaries?: Tensor[];
}

const COMMON_FIELDS: UniformField[] = [
  ...['m', 'n', 'd', 'dv', 'group', 'heads', 'kvheads', 'rows', 'chunks', 'parts', 'part_slots', 'partition', 'causal', 'window'].map((name) => ({ name, type: 'u32' as const })),
  { name: 'scale', type: 'f32' },
  { name: 'softcap', type: 'f32' },
  ...strided('q', 3),
];

/** WGSL code with the buffers and uniforms it reads: a part of a source. */
export type SourceParts = Pick<SourcePass, 'code' | 'bindings' | 'buffers' | 'uniforms' | 'values'>;

/** Positions as dense and KIVI sources have them: query i at qpos[i], token j at kpos[j], n tokens per row. */
export function listedPositions(qPos: Tensor, kPos: Tensor): SourceParts {
  return {
    code: `
fn qpos_at(kvh: u32, i: u32) -> i32 { return qpos_load(u_qpos_offset() + i * u_qpos_stride()); }
fn kpos_at(kvh: u32, j: u32) -> i32 { return kpos_load(u_kpos_offset() + j * u_kpos_stride()); }
fn length_at(kvh: u32) -> u32 { return u_n(); }`,
    bindings: [
      { name: 'qpos', dtype: 'i32', access: 'read' },
      { name: 'kpos', dtype: 'i32', access: 'read' },
    ],
    buffers: [qPos, kPos],
    uniforms: ['qpos_offset', 'qpos_stride', 'kpos_offset', 'kpos_stride'].map((name) => ({ name, type: 'u32' as const })),
    values: { qpos_offset: qPos.offset, qpos_stride: qPos.strides[0], kpos_offset: kPos.offset, kpos_stride: kPos.strides[0] },
  };
}

/** Source parts as one (code, bindings, buffers, uniforms and values concatenated). */
export function joinSources(...parts: SourceParts[]): SourceParts {
  return {
    code: parts.map((p) => p.code).join('\n'),
    bindings: parts.flatMap((p) => p.bindings),
    buffers: parts.flatMap((p) => p.buffers),
    uniforms: parts.flatMap((p) => p.uniforms),
    values: Object.assign({}, ...parts.map((p) => p.values)),
  };
}

/** Query rows a workgroup of pass 1 takes for these head dims (see `rowsPerWorkgroup`). */
export function partialRows(q: Tensor, dv: number, where: string): number {
  return rowsPerWorkgroup(q.shape[q.rank - 1], dv, where);
}

/** The launch shape of one pass-1 dispatch. */
export interface PartialGrid {
  /** KV rows (what `kvh` indexes in the source), partitions per KV row, chunks of query rows per KV row. */
  kvRows: number;
  parts: number;
  chunks: number;
  /** Slots of the partial buffer (its outputs region holds part_slots × dv floats). */
  partSlots: number;
  /** q is [heads, m, d] (strides from the view); group = query heads per KV head. */
  heads: number;
  m: number;
  group: number;
  n: number;
  dv: number;
  partition: number;
}

/**
 * Records one pass-1 dispatch: one workgroup per (partition, KV row, chunk of query rows) over the
 * source `pass` describes, writing its partial states into `partials`. The source's temporaries
 * are the caller's to dispose.
 */
export function dispatchPartials(backend: WebGpuBackend, q: Tensor, partials: Tensor, grid: PartialGrid, attrs: KernelAttrs, where: string, pass: SourcePass): void {
  const d = q.shape[q.rank - 1];
  // q + the source's buffers + the partials, all storage bindings of one stage.
  const storageBindings = pass.bindings.length + 2;
  const allowed = backend.device.limits.maxStorageBuffersPerShaderStage;
  if (storageBindings > allowed) {
    throw new InvalidConfigError(`${where}: the WebGPU kernel binds ${storageBindings} storage buffers; this device allows ${allowed} per shader stage`);
  }
  const program = backend.program(`attention-kernels:decode-partial:${q.dtype}:${pass.key}`, () => ({
    bindings: [{ name: 'q', dtype: q.dtype, access: 'read' }, ...pass.bindings, { name: 'part', dtype: 'f32', access: 'write' }],
    uniforms: [...COMMON_FIELDS, ...pass.uniforms],
    code: PARTIAL_CODE(pass.code, pass.rows ?? STANDARD_ROWS, pass.withLogWeights),
  }));
  const values: UniformValues = {
    m: grid.m,
    n: grid.n,
    d,
    dv: grid.dv,
    group: grid.group,
    heads: grid.heads,
    kvheads: grid.kvRows,
    rows: partialRows(q, grid.dv, where),
    chunks: grid.chunks,
    parts: grid.parts,
    part_slots: grid.partSlots,
    partition: grid.partition,
    causal: attrs.causal ? 1 : 0,
    window: attrs.window,
    scale: attrs.scale,
    softcap: attrs.softcap,
    ...viewValues('q', q),
    ...pass.values,
  };
  backend.dispatch(program, [q, ...pass.buffers, partials], values, backend.grid(grid.parts * grid.kvRows * grid.chunks));
}

/**
 * The split-K skeleton of every WGSL decode kernel: pass 1 (one workgroup per partition × KV head
 * × chunk of query rows, over the source `pass` describes) writes partial states, pass 2 merges
 * them by log-sum-exp into the output [qHeads, m, dv] (q's dtype) and the f32 lse [qHeads, m].
 */
export function splitKDecode(
  backend: WebGpuBackend,
  q: Tensor,
  shape: { kvHeads: number; n: number; dv: number; partition: number },
  attrs: KernelAttrs,
  where: string,
  pass: () => SourcePass,
): KernelResult {
  const [qHeads, m] = q.shape;
  const { kvHeads, n, dv, partition } = shape;
  const plan = planSplitK(backend, q, shape, attrs.lse);
  const { rows, parts, output, lse } = plan;
  if (plan.empty) return plan.result();
  const perGroup = partialRows(q, dv, where);
  const partials = backend.empty([Math.max(parts, 1) * rows * (dv + 2)], 'f32');
  let source: SourcePass | undefined;
  try {
    if (parts > 0) {
      source = pass();
      const group = qHeads / kvHeads;
      const chunks = Math.ceil((group * m) / perGroup);
      dispatchPartials(backend, q, partials, { kvRows: kvHeads, parts, chunks, partSlots: parts * rows, heads: qHeads, m, group, n, dv, partition }, attrs, where, source);
    }
    mergePartialsWebGpu(backend, partials, { rows, parts, dv }, output, lse);
  } finally {
    partials.dispose();
    for (const t of source?.temporaries ?? []) t.dispose();
  }
  return plan.result();
}

/**
 * Pass 2: merges partials (one f32 buffer: outputs [parts, rows, dv], then states [parts, rows, 2])
 * by log-sum-exp into `output` (row-major, rows × dv elements) and, when given, the f32 `lse` [rows].
 */
export function mergePartialsWebGpu(
  backend: WebGpuBackend,
  partials: Tensor,
  { rows, parts, dv }: { rows: number; parts: number; dv: number },
  output: Tensor,
  lse: Tensor | undefined,
): void {
  const merge = backend.program(`attention-kernels:decode-merge:${output.dtype}:${lse ? 'lse' : 'plain'}`, () => ({
    bindings: [
      { name: 'part', dtype: 'f32', access: 'read' },
      { name: 'out', dtype: output.dtype, access: 'write' },
      ...(lse ? [{ name: 'lse', dtype: 'f32' as const, access: 'write' as const }] : []),
    ],
    uniforms: ['rows', 'parts', 'dv'].map((name) => ({ name, type: 'u32' as const })),
    code: MERGE_CODE(lse !== undefined),
  }));
  backend.dispatch(merge, [partials, output, ...(lse ? [lse] : [])], { rows, parts, dv }, backend.grid(rows));
}
