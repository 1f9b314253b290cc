import { InvalidConfigError, type Tensor } from '@kvkit/tensor-core';
import type { TensorBindingSpec, UniformField, UniformValues, WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { planSplitK } from '../gpu/split-k-plan.js';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';
import { octByElements } from './word-rows.js';

const WORKGROUP = 128;
/** Query rows per workgroup at most (each invocation keeps its scores and accumulators for every row in registers). */
const MAX_ROWS = 8;
/** Workgroup-memory floats for the scaled query rows (rows · d) and the partition's output rows (rows · dv). */
const Q_CAPACITY = 1024;
const ACC_CAPACITY = 2048;
/** Invocations per key in the dot products (adjacent 16-byte reads of its row). */
const KEY_LANES = 2;
/** Key groups of the value phase at most (each keeps its own running max; they merge once per partition). */
const MAX_KEY_GROUPS = 16;

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

/** The compile-time shape of one pass-1 program: head dims and query rows per workgroup. */
interface PartialShape {
  d: number;
  dv: number;
  rows: number;
}

/**
 * Pass 1 of split-K decode over a key/value source. The source defines, for token j of KV row kvh,
 * \`key_row(kvh, j)\` / \`value_row(kvh, j)\` (where its channels start: one lookup per token) and
 * \`key_oct(kvh, row, o)\` / \`value_oct(kvh, row, o)\` (channels 8o … 8o+7 as a mat2x4<f32>: one
 * 16-byte load of f16, see word-rows.ts), \`kpos_at(kvh, j)\` and, with log weights,
 * \`log_weight(kvh, j)\`; \`rows\` (default \`STANDARD_ROWS\`) says which query rows a KV row serves,
 * where they and their partial results live, and which keys a partition covers.
 *
 * Each tile of WORKGROUP keys takes three phases with one barrier after each (sources with
 * \`stagesKeys\` first fill workgroup memory for their \`key_oct\` in \`stage_keys(kvh, t0, count, lid)\`,
 * one more barrier):
 * - dot products: KEY_LANES adjacent invocations per key read its row 16 bytes each, side by side
 *   (a pair covers whole 32-byte sectors), every invocation KEY_LANES keys of the tile, all loads
 *   independent; each scores its half of the channels against every query row of the workgroup (the
 *   rows' scaled queries sit in workgroup memory, read by all invocations at once);
 * - scores: one invocation per key adds the halves, masks, soft-caps and adds the log weight;
 * - values: KG key groups × LANES invocations, each lane 8 (or OPL · 8) value channels of its
 *   group's keys, so a value row is read by adjacent invocations, 16 bytes each. Each group keeps its
 *   own running max and sum per row (no workgroup-wide max per tile), and the groups merge by
 *   log-sum-exp once, at the end of the partition.
 * Partials go to one f32 buffer \`part\`: unnormalized outputs [part_slots, dv], then (max, Σ exp)
 * [part_slots, 2] (one binding: the KIVI variant needs every other one the device allows).
 */
const PARTIAL_CODE = (source: string, rows: string, withLogWeights: boolean, stagesKeys: boolean, shape: PartialShape) => {
  const d8 = Math.max(1, Math.ceil(shape.d / 8));
  const dv8 = Math.max(1, Math.ceil(shape.dv / 8));
  const lanes = Math.min(dv8, WORKGROUP);
  const keyGroups = Math.min(MAX_KEY_GROUPS, Math.floor(WORKGROUP / lanes));
  const scratch = shape.rows * Math.max(WORKGROUP * KEY_LANES, dv8 * 8);
  return `${source}
${rows}
const WG: u32 = ${WORKGROUP}u;
const ROWS: u32 = ${shape.rows}u;
const D8: u32 = ${d8}u;
const KEY_LANES: u32 = ${KEY_LANES}u;
/** Octets of a key row each of its lanes reads. */
const LANE_OCTETS: u32 = ${Math.ceil(d8 / KEY_LANES)}u;
const DV8: u32 = ${dv8}u;
const LANES: u32 = ${lanes}u;
const OPL: u32 = ${Math.ceil(dv8 / lanes)}u;
const KG: u32 = ${keyGroups}u;
/** Keys of a tile per key group: a constant trip count, so the value loads of a group can be issued ahead. */
const GROUP_KEYS: u32 = ${Math.ceil(WORKGROUP / keyGroups)}u;
var<workgroup> qs: array<mat2x4<f32>, ${shape.rows * d8}>;
var<workgroup> row_qp: array<i32, ${shape.rows}>;
/** Partial dot products of the tile [ROWS, WG, KEY_LANES], then its scores at lane 0; after the last tile, the merged output rows [ROWS, DV8 · 8]. */
var<workgroup> scratch: array<f32, ${scratch}>;
/** Per key of the tile: its position and where its value row starts (page lookups done once, in the dot-product phase). */
var<workgroup> tile_kpos: array<i32, ${WORKGROUP}>;
var<workgroup> tile_vrow: array<u32, ${WORKGROUP}>;
${withLogWeights ? `var<workgroup> tile_lw: array<f32, ${WORKGROUP}>;` : ''}
/** The latest tile (t0 + 1) some row of the workgroup can see a key of, and its uniform copy. */
var<workgroup> tile_seen: atomic<u32>;
var<workgroup> tile_live: u32;
/** Each key group's (max, sum) per row. */
var<workgroup> group_state: array<vec2<f32>, ${keyGroups * shape.rows}>;
fn visible(qp: i32, kp: i32) -> bool {
  if (u_causal() != 0u && kp > qp) { return false; }
  return u_window() == 0u || qp - kp < i32(u_window());
}
fn q_oct(base: u32, o: u32) -> mat2x4<f32> {
  ${octByElements((c) => `q_load(base + ${c} * u_q_strides(2u)) * u_scale()`, 'u_d()')}
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= u_parts() * u_kvheads() * u_chunks()) { return; }
  let part = g % u_parts();
  let kvh = (g / u_parts()) % u_kvheads();
  let chunk = g / (u_parts() * u_kvheads());
  let rows = rows_of(kvh);
  let r0 = chunk * ROWS;
  // Workgroup-uniform: row chunks past this KV row's rows and partitions it does not own do nothing.
  if (r0 >= rows || !part_active(part, kvh)) { return; }
  let rc = min(ROWS, rows - r0);
  let keys = part_keys(part, kvh);
  let j0 = keys.x;
  let j1 = keys.y;
  // Rows past rc score zero queries: never stored, and no branch on rc in the loops.
  for (var e = lid; e < ROWS * D8; e = e + WG) {
    let r = e / D8;
    var x = mat2x4<f32>();
    if (r < rc) { x = q_oct(q_row(kvh, r0 + r), e % D8); }
    qs[e] = x;
  }
  if (lid < rc) { row_qp[lid] = row_qpos(kvh, r0 + lid); }
  let lane = lid % LANES;
  let kg = lid / LANES;
  var acc: array<mat2x4<f32>, ${shape.rows * Math.ceil(dv8 / lanes)}>;
  var mx: array<f32, ${shape.rows}>;
  var sm: array<f32, ${shape.rows}>;
  for (var r = 0u; r < ROWS; r = r + 1u) {
    mx[r] = -inf_f32();
    sm[r] = 0.0;
  }
  // Workgroup memory is not zeroed between workgroups (the device may skip it); nothing seen yet.
  if (lid == 0u) { atomicStore(&tile_seen, 0u); }
  workgroupBarrier();
  // Several queries per KV row under a causal mask or a window (a prefill): a tile no row can see
  // (keys past every query of the workgroup) is skipped, not loaded and scored. Decode rows see
  // every key, so they skip the check's two barriers.
  let check_tiles = u_m() > 1u && (u_causal() != 0u || u_window() != 0u);
  for (var t0 = j0; t0 < j1; t0 = t0 + WG) {
    let count = min(WG, j1 - t0);
    if (check_tiles) {
      if (lid < count) {
        let kp = kpos_at(kvh, t0 + lid);
        var seen = false;
        for (var r = 0u; r < ROWS; r = r + 1u) { seen = seen || (r < rc && visible(row_qp[r], kp)); }
        if (seen) { atomicMax(&tile_seen, t0 + 1u); }
      }
      workgroupBarrier();
      if (lid == 0u) { tile_live = atomicLoad(&tile_seen); }
      if (workgroupUniformLoad(&tile_live) != t0 + 1u) { continue; }
    }
    ${stagesKeys ? 'stage_keys(kvh, t0, count, lid);' : ''}
    ${stagesKeys ? 'workgroupBarrier();' : ''}
    let key_lane = lid % KEY_LANES;
    for (var h = 0u; h < KEY_LANES; h = h + 1u) {
      let t = lid / KEY_LANES + h * (WG / KEY_LANES);
      if (t < count) {
        let j = t0 + t;
        let kr = key_row(kvh, j);
        var dots: array<f32, ${shape.rows}>;
        for (var r = 0u; r < ROWS; r = r + 1u) { dots[r] = 0.0; }
        for (var i = 0u; i < LANE_OCTETS; i = i + 1u) {
          let o = i * KEY_LANES + key_lane;
          if (o < D8) {
            let k8 = key_oct(kvh, kr, o);
            for (var r = 0u; r < ROWS; r = r + 1u) {
              let q8 = qs[r * D8 + o];
              dots[r] = dots[r] + dot(q8[0], k8[0]) + dot(q8[1], k8[1]);
            }
          }
        }
        for (var r = 0u; r < ROWS; r = r + 1u) { scratch[(r * WG + t) * KEY_LANES + key_lane] = dots[r]; }
        if (key_lane == 0u) {
          tile_kpos[t] = kpos_at(kvh, j);
          tile_vrow[t] = value_row(kvh, j);
          ${withLogWeights ? 'tile_lw[t] = log_weight(kvh, j);' : ''}
        }
      }
    }
    workgroupBarrier();
    if (lid < count) {
      for (var r = 0u; r < ROWS; r = r + 1u) {
        let at = (r * WG + lid) * KEY_LANES;
        var s = -inf_f32();
        if (r < rc && visible(row_qp[r], tile_kpos[lid])) {
          s = 0.0;
          for (var l = 0u; l < KEY_LANES; l = l + 1u) { s = s + scratch[at + l]; }
          if (u_softcap() > 0.0) { s = u_softcap() * tanh_acc(s / u_softcap()); }
          ${withLogWeights ? 's = s + tile_lw[lid];' : ''}
        }
        scratch[at] = s;
      }
    }
    workgroupBarrier();
    if (kg < KG) {
      // This group's keys of the tile: kg, kg + KG, …; first its new max per row, then the values.
      for (var r = 0u; r < ROWS; r = r + 1u) {
        var m = mx[r];
        for (var u = 0u; u < GROUP_KEYS; u = u + 1u) {
          let t = kg + u * KG;
          if (t < count) { m = nan_max(m, scratch[(r * WG + t) * KEY_LANES]); }
        }
        let alpha = select(exp(mx[r] - m), 1.0, m == -inf_f32());
        mx[r] = m;
        sm[r] = sm[r] * alpha;
        for (var k = 0u; k < OPL; k = k + 1u) { acc[r * OPL + k] = acc[r * OPL + k] * alpha; }
      }
      for (var u = 0u; u < GROUP_KEYS; u = u + 1u) {
        let t = kg + u * KG;
        if (t < count) {
          let vr = tile_vrow[t];
          var p: array<f32, ${shape.rows}>;
          for (var r = 0u; r < ROWS; r = r + 1u) {
            let s = scratch[(r * WG + t) * KEY_LANES];
            p[r] = select(exp(s - mx[r]), 0.0, s == -inf_f32());
            sm[r] = sm[r] + p[r];
          }
          for (var k = 0u; k < OPL; k = k + 1u) {
            let o = lane + k * LANES;
            if (o < DV8) {
              let v8 = value_oct(kvh, vr, o);
              for (var r = 0u; r < ROWS; r = r + 1u) { acc[r * OPL + k] = acc[r * OPL + k] + v8 * p[r]; }
            }
          }
        }
      }
    }
    workgroupBarrier();
  }
  // Merge the key groups: each row's max over the groups, then the groups add their rescaled
  // outputs into scratch in turn.
  if (kg < KG && lane == 0u) {
    for (var r = 0u; r < ROWS; r = r + 1u) { group_state[kg * ROWS + r] = vec2<f32>(mx[r], sm[r]); }
  }
  workgroupBarrier();
  var top: array<f32, ${shape.rows}>;
  for (var r = 0u; r < ROWS; r = r + 1u) {
    top[r] = -inf_f32();
    for (var h = 0u; h < KG; h = h + 1u) { top[r] = nan_max(top[r], group_state[h * ROWS + r].x); }
  }
  for (var turn = 0u; turn < KG; turn = turn + 1u) {
    if (kg == turn) {
      for (var r = 0u; r < ROWS; r = r + 1u) {
        let f = select(exp(mx[r] - top[r]), 0.0, mx[r] == -inf_f32());
        for (var k = 0u; k < OPL; k = k + 1u) {
          let o = lane + k * LANES;
          if (o < DV8) {
            let add = acc[r * OPL + k] * f;
            for (var i = 0u; i < 8u; i = i + 1u) {
              let at = (r * DV8 + o) * 8u + i;
              scratch[at] = select(scratch[at], 0.0, turn == 0u) + add[i / 4u][i % 4u];
            }
          }
        }
      }
    }
    workgroupBarrier();
  }
  let dv = u_dv();
  for (var e = lid; e < rc * dv; e = e + WG) {
    let r = e / dv;
    part_store(partial_slot(part, kvh, r0 + r) * dv + e % dv, scratch[r * DV8 * 8u + e % dv]);
  }
  if (lid < rc) {
    var total = 0.0;
    for (var h = 0u; h < KG; h = h + 1u) {
      let st = group_state[h * ROWS + lid];
      if (st.x != -inf_f32()) { total = total + st.y * exp(st.x - top[lid]); }
    }
    let stat = u_part_slots() * dv + 2u * partial_slot(part, kvh, r0 + lid);
    part_store(stat, top[lid]);
    part_store(stat + 1u, total);
  }
}`;
};

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
  /** Defines the key and value reads (\`key_row\`/\`key_oct\`, \`value_row\`/\`value_oct\`: word-rows.ts), \`kpos_at\` and, with log weights, \`log_weight\`. */
  code: string;
  /** Source buffers, bound after q. */
  bindings: TensorBindingSpec[];
  buffers: Tensor[];
  uniforms: UniformField[];
  values: UniformValues;
  withLogWeights: boolean;
  /**
   * The source defines \`stage_keys(kvh, t0, count, lid)\`, which the workgroup runs at the start of
   * every tile of keys [t0, t0 + count) before its dot products (what \`key_oct\` reads of the tile
   * goes to workgroup memory once, not once per key).
   */
  stagesKeys?: boolean;
  /** Row mapping (\`rows_of\`, \`q_row\`, \`row_qpos\`, \`partial_slot\`, \`part_active\`, \`part_keys\`); default \`STANDARD_ROWS\`. */
  rows?: string;
  /** Copies made for this launch, disposed once it is recorded. */
  temporaries?: Tensor[];
}

const COMMON_FIELDS: UniformField[] = [
  ...['m', 'n', 'd', 'dv', 'group', 'heads', 'kvheads', 'chunks', 'parts', 'part_slots', 'partition', 'causal', 'window'].map((name) => ({ name, type: 'u32' as const })),
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

/** Source parts with the cache key of their variant (dtypes, alignment, options). */
export type KeyedSourceParts = SourceParts & { key: string };

/** The pass over a key source and a value source: their parts joined, keyed by both variants. */
export function keyValuePass(keys: KeyedSourceParts & Pick<SourcePass, 'withLogWeights' | 'stagesKeys'>, values: KeyedSourceParts): SourcePass {
  return { ...keys, ...joinSources(keys, values), key: `${keys.key}:${values.key}` };
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
  /** Query rows a KV row serves at most (a workgroup takes up to `partialRows` of them). */
  rowsPerKvRow: number;
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
  // Head dims and rows per workgroup are compile-time: the per-row scores and accumulators are
  // register arrays and the octet loops have constant trip counts.
  const shape = { d, dv: grid.dv, rows: Math.max(1, Math.min(partialRows(q, grid.dv, where), grid.rowsPerKvRow)) };
  const program = backend.program(`attention-kernels:decode-partial:${q.dtype}:${pass.key}:${shape.d}:${shape.dv}:${shape.rows}`, () => ({
    bindings: [{ name: 'q', dtype: q.dtype, access: 'read' }, ...pass.bindings, { name: 'part', dtype: 'f32', access: 'write' }],
    uniforms: [...COMMON_FIELDS, ...pass.uniforms],
    code: PARTIAL_CODE(pass.code, pass.rows ?? STANDARD_ROWS, pass.withLogWeights, pass.stagesKeys ?? false, shape),
  }));
  const values: UniformValues = {
    m: grid.m,
    n: grid.n,
    d,
    dv: grid.dv,
    group: grid.group,
    heads: grid.heads,
    kvheads: grid.kvRows,
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
      dispatchPartials(backend, q, partials, { kvRows: kvHeads, parts, chunks, rowsPerKvRow: group * m, partSlots: parts * rows, heads: qHeads, m, group, n, dv, partition }, attrs, where, source);
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
