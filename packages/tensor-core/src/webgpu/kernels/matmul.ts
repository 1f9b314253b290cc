import type { MatmulAttrs } from '../../ops/matmul.js';
import { broadcastStrides, sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { coalesceDims, unravelFunction } from '../wgsl/strided.js';
import type { UniformField, UniformValues } from '../wgsl/uniforms.js';

/**
 * Batched matmul C[z] = X[z] · Y[z] for views with arbitrary strides: every operand is read as
 * X(r, p) = x[offset(z) + r·x_r + p·x_p], so transposes are just swapped strides and no operand is
 * ever copied. Three kernels:
 *
 * - tiled (m, n > 4): a 16×16 workgroup computes a T×T tile (T = 128, or 64 when 128-tiles would
 *   leave the GPU idle), each invocation T/16 × T/16 outputs in registers, operands staged through
 *   workgroup memory in k-steps; f32 operands whose contiguous axis is aligned load as vec4 (the
 *   load path is a uniform, so one pipeline serves every layout).
 * - gemv (m ≤ 4, or n ≤ 4 by computing Cᵀ = Bᵀ·Aᵀ): memory-bound decode-time products; lanes run
 *   along whichever axis of Y is contiguous so reads coalesce.
 *
 * Accumulation is f32 (the CPU accumulates in float64).
 */

interface Operand {
  tensor: Tensor;
  /** Stride along rows (r) and along the contraction axis (p) — or, for Y, along p and columns. */
  s0: number;
  s1: number;
  batch: number[];
}

interface Problem {
  x: Operand;
  y: Operand;
  rows: number;
  cols: number;
  k: number;
  batchShape: number[];
  /** Output strides of rows and columns inside one batch entry. */
  outRow: number;
  outCol: number;
  outBatch: number;
}

const GEMV_ROWS = 4;
const TILE_WORKGROUP = 16;

function operands(a: Tensor, b: Tensor, attrs: MatmulAttrs): { a: Operand; b: Operand; batchShape: number[] } {
  const ra = a.rank;
  const rb = b.rank;
  // A(i, p) and B(p, j) strides.
  const [ai, ap] = attrs.transposeA ? [a.strides[ra - 1], a.strides[ra - 2]] : [a.strides[ra - 2], a.strides[ra - 1]];
  const [bp, bj] = attrs.transposeB ? [b.strides[rb - 1], b.strides[rb - 2]] : [b.strides[rb - 2], b.strides[rb - 1]];
  const batchShape = [...attrs.batchShape];
  const aBatch = broadcastStrides(a.shape.slice(0, -2), a.strides.slice(0, -2), batchShape);
  const bBatch = broadcastStrides(b.shape.slice(0, -2), b.strides.slice(0, -2), batchShape);
  const outBatch = broadcastStrides(batchShape, contiguous(batchShape, attrs.m * attrs.n), batchShape);
  const merged = coalesceDims(batchShape, [aBatch, bBatch, outBatch]);
  return {
    a: { tensor: a, s0: ai, s1: ap, batch: merged.strides[0] },
    b: { tensor: b, s0: bp, s1: bj, batch: merged.strides[1] },
    batchShape: merged.shape,
  };
}

function contiguous(shape: readonly number[], inner: number): number[] {
  const strides = new Array<number>(shape.length);
  let s = inner;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function matmulTensor(backend: WebGpuBackend, a: Tensor, b: Tensor, attrs: MatmulAttrs): Tensor {
  const { m, n, k } = attrs;
  const out = backend.empty([...attrs.batchShape, m, n], a.dtype);
  const batches = sizeOf(attrs.batchShape);
  if (m === 0 || n === 0 || batches === 0) return out;
  if (k === 0) {
    out.dispose();
    return backend.zeros([...attrs.batchShape, m, n], a.dtype);
  }
  const ops = operands(a, b, attrs);
  const problem: Problem = { x: ops.a, y: ops.b, rows: m, cols: n, k, batchShape: ops.batchShape, outRow: n, outCol: 1, outBatch: m * n };
  if (m <= GEMV_ROWS) gemv(backend, problem, out);
  else if (n <= GEMV_ROWS) {
    // Cᵀ = Bᵀ·Aᵀ: Bᵀ(j, p) = B(p, j), Aᵀ(p, i) = A(i, p); write C(i, j) at i·n + j.
    const bt: Operand = { tensor: b, s0: ops.b.s1, s1: ops.b.s0, batch: ops.b.batch };
    const at: Operand = { tensor: a, s0: ops.a.s1, s1: ops.a.s0, batch: ops.a.batch };
    gemv(backend, { x: bt, y: at, rows: n, cols: m, k, batchShape: ops.batchShape, outRow: 1, outCol: n, outBatch: m * n }, out);
  } else tiled(backend, problem, out);
  return out;
}

function batchUniforms(rank: number): UniformField[] {
  if (rank === 0) return [];
  return [
    { name: 'batch_shape', type: 'u32', length: rank },
    { name: 'x_batch', type: 'u32', length: rank },
    { name: 'y_batch', type: 'u32', length: rank },
  ];
}

function commonUniforms(rank: number): UniformField[] {
  return [
    { name: 'rows', type: 'u32' },
    { name: 'cols', type: 'u32' },
    { name: 'k', type: 'u32' },
    { name: 'x_offset', type: 'u32' },
    { name: 'y_offset', type: 'u32' },
    { name: 'x_s0', type: 'u32' },
    { name: 'x_s1', type: 'u32' },
    { name: 'y_s0', type: 'u32' },
    { name: 'y_s1', type: 'u32' },
    { name: 'out_row', type: 'u32' },
    { name: 'out_col', type: 'u32' },
    { name: 'out_batch', type: 'u32' },
    ...batchUniforms(rank),
  ];
}

function commonValues(p: Problem): UniformValues {
  const values: UniformValues = {
    rows: p.rows,
    cols: p.cols,
    k: p.k,
    x_offset: p.x.tensor.offset,
    y_offset: p.y.tensor.offset,
    x_s0: p.x.s0,
    x_s1: p.x.s1,
    y_s0: p.y.s0,
    y_s1: p.y.s1,
    out_row: p.outRow,
    out_col: p.outCol,
    out_batch: p.outBatch,
  };
  if (p.batchShape.length > 0) {
    values.batch_shape = p.batchShape;
    values.x_batch = p.x.batch;
    values.y_batch = p.y.batch;
  }
  return values;
}

function batchFunctions(rank: number): string {
  return [
    unravelFunction('x_base', rank, 'batch_shape', 'x_batch', 'u_x_offset()'),
    unravelFunction('y_base', rank, 'batch_shape', 'y_batch', 'u_y_offset()'),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// gemv

function gemv(backend: WebGpuBackend, p: Problem, out: Tensor): void {
  const rank = p.batchShape.length;
  // Lanes along p when Y is contiguous in p (HF weights, transposeB), else along columns.
  const dot = p.y.s0 === 1;
  const cols = dot ? 8 : 64;
  const lanes = 256 / cols;
  const dtype = p.x.tensor.dtype;
  const program = backend.program(`matmul:gemv:${dtype}:b${rank}:${dot ? 'dot' : 'axpy'}`, () => ({
    bindings: [
      { name: 'x', dtype, access: 'read' },
      { name: 'y', dtype, access: 'read' },
      { name: 'out', dtype, access: 'write' },
    ],
    uniforms: commonUniforms(rank),
    code: `${batchFunctions(rank)}
var<workgroup> partial: array<f32, ${256 * GEMV_ROWS}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let col = ${dot ? `lid / ${lanes}u` : `lid % ${cols}u`};
  let lane = ${dot ? `lid % ${lanes}u` : `lid / ${cols}u`};
  let j = wid.x * ${cols}u + col;
  let z = wid.z;
  let xb = x_base(z);
  let yb = y_base(z);
  var acc = array<f32, ${GEMV_ROWS}>(${Array(GEMV_ROWS).fill('0.0').join(', ')});
  if (j < u_cols()) {
    for (var p = lane; p < u_k(); p = p + ${lanes}u) {
      let yv = y_load(yb + p * u_y_s0() + j * u_y_s1());
      for (var r = 0u; r < ${GEMV_ROWS}u; r = r + 1u) {
        if (r < u_rows()) { acc[r] = acc[r] + x_load(xb + r * u_x_s0() + p * u_x_s1()) * yv; }
      }
    }
  }
  for (var r = 0u; r < ${GEMV_ROWS}u; r = r + 1u) { partial[r * 256u + lid] = acc[r]; }
  workgroupBarrier();
  if (lane == 0u && j < u_cols()) {
    for (var r = 0u; r < u_rows(); r = r + 1u) {
      var s = 0.0;
      for (var q = 0u; q < ${lanes}u; q = q + 1u) { s = s + partial[r * 256u + ${dot ? 'lid + q' : `q * ${cols}u + col`}]; }
      out_store(z * u_out_batch() + r * u_out_row() + j * u_out_col(), s);
    }
  }
}`,
  }));
  backend.dispatch(program, [p.x.tensor, p.y.tensor, out], commonValues(p), [Math.ceil(p.cols / cols), 1, sizeOf(p.batchShape)]);
}

// ---------------------------------------------------------------------------------------------
// tiled

/** How a tile is loaded: 0 scalar, 1 vec4 along p (the contraction axis), 2 vec4 along rows/columns. */
type LoadMode = 0 | 1 | 2;

interface TileConfig {
  /** Tile edge (rows = cols). */
  t: number;
  /** k-step. */
  bk: number;
}

const BIG: TileConfig = { t: 128, bk: 8 };
const SMALL: TileConfig = { t: 64, bk: 16 };

/** vec4 loads need an f32 operand whose contiguous axis is aligned to 4 in every row and batch entry. */
function loadMode(o: Operand, contiguousAxisIsP: boolean, otherStride: number): LoadMode {
  if (o.tensor.dtype !== 'f32') return 0;
  const aligned = o.tensor.offset % 4 === 0 && otherStride % 4 === 0 && o.batch.every((s) => s % 4 === 0);
  if (!aligned) return 0;
  return contiguousAxisIsP ? 1 : 2;
}

/** X(r, p): contiguous along p when s1 = 1, along rows when s0 = 1. */
function xMode(o: Operand): LoadMode {
  if (o.s1 === 1) return loadMode(o, true, o.s0);
  if (o.s0 === 1) return loadMode(o, false, o.s1);
  return 0;
}

/** Y(p, c): contiguous along p when s0 = 1, along columns when s1 = 1. */
function yMode(o: Operand): LoadMode {
  if (o.s0 === 1) return loadMode(o, true, o.s1);
  if (o.s1 === 1) return loadMode(o, false, o.s0);
  return 0;
}

/**
 * WGSL filling the workgroup tile `NAME_tile` (bk × t, stored [kk][rc] as vec4 along rc) for
 * operand `name` at k-offset `k0`. `rc` is the row (X) or column (Y) axis; `rcStride`/`pStride` its
 * strides. f32 operands choose the load path by the uniform `u_NAME_mode()` (uniform branch).
 */
function tileLoad(name: string, vec: boolean, cfg: TileConfig, checked: boolean, rcStart: string, rcLimit: string, rcStride: string, pStride: string): string {
  const { t, bk } = cfg;
  const q = t / 4;
  const at = (rc: string, kk: string) => `${name}b + (${rc}) * ${rcStride} + (${kk}) * ${pStride}`;
  const tile = `${name}_tile`;
  const scalar = `for (var l = lid; l < ${t * bk}u; l = l + 256u) {
      let rl = l / ${bk}u;
      let kl = l % ${bk}u;
      let rc = ${rcStart} + rl;
      let kk = k0 + kl;
      var v = 0.0;
      if (${checked ? `rc < ${rcLimit} && kk < u_k()` : 'true'}) { v = ${name}_load(${at('rc', 'kk')}); }
      ${tile}[kl * ${q}u + rl / 4u][rl % 4u] = v;
    }`;
  if (!vec) return scalar;
  const per = bk / 4;
  // One vec4 = 4 consecutive p of one row/column, scattered transposed into the tile.
  const alongP = `for (var l = lid; l < ${(t * bk) / 4}u; l = l + 256u) {
      let rl = l / ${per}u;
      let kq = (l % ${per}u) * 4u;
      let rc = ${rcStart} + rl;
      let kk = k0 + kq;
      var v = vec4<f32>(0.0);
      ${
        checked
          ? `if (rc < ${rcLimit} && kk + 3u < u_k()) { v = ${name}_load4((${at('rc', 'kk')}) / 4u); }
      else if (rc < ${rcLimit}) {
        for (var c = 0u; c < 4u; c = c + 1u) { if (kk + c < u_k()) { v[c] = ${name}_load(${at('rc', 'kk + c')}); } }
      }`
          : `v = ${name}_load4((${at('rc', 'kk')}) / 4u);`
      }
      for (var c = 0u; c < 4u; c = c + 1u) { ${tile}[(kq + c) * ${q}u + rl / 4u][rl % 4u] = v[c]; }
    }`;
  // One vec4 = 4 consecutive rows/columns at one p: stored as is.
  const alongRc = `for (var l = lid; l < ${(t * bk) / 4}u; l = l + 256u) {
      let kl = l / ${q}u;
      let rq = (l % ${q}u) * 4u;
      let rc = ${rcStart} + rq;
      let kk = k0 + kl;
      var v = vec4<f32>(0.0);
      ${
        checked
          ? `if (rc + 3u < ${rcLimit} && kk < u_k()) { v = ${name}_load4((${at('rc', 'kk')}) / 4u); }
      else if (kk < u_k()) {
        for (var c = 0u; c < 4u; c = c + 1u) { if (rc + c < ${rcLimit}) { v[c] = ${name}_load(${at('rc + c', 'kk')}); } }
      }`
          : `v = ${name}_load4((${at('rc', 'kk')}) / 4u);`
      }
      ${tile}[kl * ${q}u + rq / 4u] = v;
    }`;
  return `if (u_${name}_mode() == 1u) {
    ${alongP}
    } else if (u_${name}_mode() == 2u) {
    ${alongRc}
    } else {
    ${scalar}
    }`;
}

function tiled(backend: WebGpuBackend, p: Problem, out: Tensor): void {
  const rank = p.batchShape.length;
  const batches = sizeOf(p.batchShape);
  const bigTiles = Math.ceil(p.rows / BIG.t) * Math.ceil(p.cols / BIG.t) * batches;
  const cfg = bigTiles >= 96 ? BIG : SMALL;
  const { t, bk } = cfg;
  const groups = t / 64; // vec4 groups per invocation along each axis (rows g·64 + ty·4 + 0..3)
  const checked = !(p.rows % t === 0 && p.cols % t === 0 && p.k % bk === 0);
  const dtype = p.x.tensor.dtype;
  const vec = dtype === 'f32';
  const q = t / 4;
  const program = backend.program(`matmul:tiled${t}:${dtype}:b${rank}:${checked ? 'checked' : 'exact'}`, () => {
    const accumulate: string[] = [];
    for (let ga = 0; ga < groups; ga++) accumulate.push(`let a${ga} = x_tile[kk * ${q}u + ${ga * 16}u + ty];`);
    for (let gb = 0; gb < groups; gb++) accumulate.push(`let b${gb} = y_tile[kk * ${q}u + ${gb * 16}u + tx];`);
    for (let ga = 0; ga < groups; ga++)
      for (let r = 0; r < 4; r++)
        for (let gb = 0; gb < groups; gb++) accumulate.push(`acc${(ga * 4 + r) * groups + gb} = acc${(ga * 4 + r) * groups + gb} + a${ga}[${r}] * b${gb};`);
    const stores: string[] = [];
    for (let ga = 0; ga < groups; ga++)
      for (let r = 0; r < 4; r++)
        for (let gb = 0; gb < groups; gb++) {
          const row = `row0 + ${ga * 64 + r}u`;
          const acc = `acc${(ga * 4 + r) * groups + gb}`;
          stores.push(`{ let i = ${row}; let j = col0 + ${gb * 64}u;
      for (var c = 0u; c < 4u; c = c + 1u) {
        ${checked ? 'if (i < u_rows() && j + c < u_cols()) ' : ''}{ out_store(ob + i * u_out_row() + (j + c) * u_out_col(), ${acc}[c]); }
      } }`);
        }
    const accCount = 4 * groups * groups;
    return {
      bindings: [
        { name: 'x', dtype, access: 'read', vec4: vec },
        { name: 'y', dtype, access: 'read', vec4: vec },
        { name: 'out', dtype, access: 'write' },
      ],
      uniforms: [...commonUniforms(rank), { name: 'x_mode', type: 'u32' }, { name: 'y_mode', type: 'u32' }],
      code: `${batchFunctions(rank)}
var<workgroup> x_tile: array<vec4<f32>, ${bk * q}>;
var<workgroup> y_tile: array<vec4<f32>, ${bk * q}>;
@compute @workgroup_size(${TILE_WORKGROUP}, ${TILE_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tx = local.x;
  let ty = local.y;
  let z = wid.z;
  let xb = x_base(z);
  let yb = y_base(z);
  let ob = z * u_out_batch();
  let tileRow = wid.y * ${t}u;
  let tileCol = wid.x * ${t}u;
  ${Array.from({ length: accCount }, (_, i) => `var acc${i} = vec4<f32>(0.0);`).join('\n  ')}
  for (var k0 = 0u; k0 < u_k(); k0 = k0 + ${bk}u) {
    ${tileLoad('x', vec, cfg, checked, 'tileRow', 'u_rows()', 'u_x_s0()', 'u_x_s1()')}
    ${tileLoad('y', vec, cfg, checked, 'tileCol', 'u_cols()', 'u_y_s1()', 'u_y_s0()')}
    workgroupBarrier();
    for (var kk = 0u; kk < ${bk}u; kk = kk + 1u) {
      ${accumulate.join('\n      ')}
    }
    workgroupBarrier();
  }
  let row0 = tileRow + ty * 4u;
  let col0 = tileCol + tx * 4u;
  ${stores.join('\n  ')}
}`,
    };
  });
  const modes = { x_mode: xMode(p.x), y_mode: yMode(p.y) };
  backend.dispatch(program, [p.x.tensor, p.y.tensor, out], { ...commonValues(p), ...modes }, [Math.ceil(p.cols / t), Math.ceil(p.rows / t), batches]);
}
