import type { DType } from '../../dtype.js';
import type { ReduceOp } from '../../ops/reduce.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { computeType, type WgslScalar } from '../wgsl/dtypes.js';
import { ROW_ENTRY, type RowLayout, rowFunctions, rowKey, rowLayout, rowUniforms, rowValues, rowWorkgroup } from './rows.js';

/** Rows this few and this long are split into chunks (two passes) so more than a handful of workgroups run. */
const SPLIT_MAX_ROWS = 32;
const SPLIT_MIN_LENGTH = 8192;
const CHUNK = 4096;

/** The op index the shader switches on (`mean` sums; the division happens when `u_mean()` is set). */
const OP_INDEX: Record<ReduceOp, number> = { sum: 0, mean: 0, max: 1, min: 2 };

function reduceHelpers(type: WgslScalar): string {
  const [low, high] = type === 'f32' ? ['-inf_f32()', 'inf_f32()'] : type === 'i32' ? ['(-2147483647i - 1i)', '2147483647i'] : ['0u', '0xffffffffu'];
  const [maxOf, minOf] = type === 'f32' ? ['nan_max', 'nan_min'] : ['max', 'min'];
  return `fn identity() -> ${type} {
  switch u_op() {
    case 1u: { return ${low}; }
    case 2u: { return ${high}; }
    default: { return ${type}(0); }
  }
}
// sum, or max/min propagating NaN (NumPy semantics).
fn combine(a: ${type}, b: ${type}) -> ${type} {
  switch u_op() {
    case 1u: { return ${maxOf}(a, b); }
    case 2u: { return ${minOf}(a, b); }
    default: { return a + b; }
  }
}`;
}

/**
 * One workgroup per (row, chunk): invocations stride over the chunk, then a tree reduction in
 * workgroup memory. With `u_mean()`, the result is divided by `u_divisor()` (0 → NaN).
 */
function reduceRows(backend: WebGpuBackend, x: Tensor, layout: RowLayout, op: ReduceOp, chunks: number, out: Tensor, mean: boolean, divisor: number): void {
  const type = computeType(x.dtype);
  const chunkLength = Math.ceil(layout.length / chunks);
  const wg = rowWorkgroup(chunkLength);
  const program = backend.program(`reduce:${x.dtype}>${out.dtype}:${rowKey(layout)}:wg${wg}`, () => ({
    bindings: [
      { name: 'x', dtype: x.dtype, access: 'read' },
      { name: 'out', dtype: out.dtype, access: 'write' },
    ],
    uniforms: [
      ...rowUniforms(layout),
      { name: 'op', type: 'u32' },
      { name: 'mean', type: 'u32' },
      { name: 'chunks', type: 'u32' },
      { name: 'chunk_len', type: 'u32' },
      { name: 'divisor', type: 'u32' },
    ],
    code: `${rowFunctions(layout)}
${reduceHelpers(type)}
var<workgroup> partial: array<${type}, ${wg}>;
@compute @workgroup_size(${wg})
fn main(${ROW_ENTRY}) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= u_rows() * u_chunks()) { return; }
  let row = g / u_chunks();
  let start = (g % u_chunks()) * u_chunk_len();
  let end = min(start + u_chunk_len(), u_len());
  let base = x_row(row);
  var acc = identity();
  for (var l = start + lid; l < end; l = l + ${wg}u) { acc = combine(acc, x_load(base + x_at(l))); }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { partial[lid] = combine(partial[lid], partial[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) {
    ${type === 'f32' ? `if (u_mean() != 0u) { out_store(g, select(partial[0] / f32(u_divisor()), nan_f32(), u_divisor() == 0u)); return; }` : ''}
    out_store(g, partial[0]);
  }
}`,
  }));
  const values = { ...rowValues(layout), op: OP_INDEX[op], mean: mean ? 1 : 0, chunks, chunk_len: chunkLength, divisor };
  backend.dispatch(program, [x, out], values, backend.grid(layout.rows * chunks));
}

/** Reduces `x` over `axes` (sum/mean/max/min), splitting long rows into chunks reduced in a second pass. */
export function reduceTensor(backend: WebGpuBackend, x: Tensor, op: ReduceOp, axes: readonly number[], keepDims: boolean): Tensor {
  const shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const layout = rowLayout(x.shape, axes, [{ name: 'x', strides: x.strides, offset: x.offset }]);
  const out = backend.empty(shape, x.dtype);
  if (layout.rows === 0) return out;
  const mean = op === 'mean';
  const chunks = layout.rows <= SPLIT_MAX_ROWS && layout.length >= SPLIT_MIN_LENGTH ? Math.min(256, Math.ceil(layout.length / CHUNK)) : 1;
  if (chunks === 1) {
    reduceRows(backend, x, layout, op, 1, out, mean, layout.length);
    return out;
  }
  const accumulator: DType = computeType(x.dtype);
  const partials = backend.empty([layout.rows, chunks], accumulator);
  try {
    reduceRows(backend, x, layout, op, chunks, partials, false, 0);
    const second = rowLayout([layout.rows, chunks], [1], [{ name: 'x', strides: [chunks, 1], offset: 0 }]);
    reduceRows(backend, partials, second, op, 1, out, mean, layout.length);
  } finally {
    partials.dispose();
  }
  return out;
}

/**
 * Index (i32) of the largest/smallest value along `axis`: the first one on ties, and NaN counts as
 * the extreme (the first NaN wins), as on the CPU.
 */
export function argReduceTensor(backend: WebGpuBackend, x: Tensor, op: 'argmax' | 'argmin', axis: number, keepDims: boolean): Tensor {
  const shape = keepDims ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
  const layout = rowLayout(x.shape, [axis], [{ name: 'x', strides: x.strides, offset: x.offset }]);
  const out = backend.empty(shape, 'i32');
  if (layout.rows === 0) return out;
  const type = computeType(x.dtype);
  const nan = type === 'f32' ? 'is_nan' : 'no_nan';
  const wg = rowWorkgroup(layout.length);
  const program = backend.program(`argReduce:${x.dtype}:${rowKey(layout)}:wg${wg}`, () => ({
    bindings: [
      { name: 'x', dtype: x.dtype, access: 'read' },
      { name: 'out', dtype: 'i32', access: 'write' },
    ],
    uniforms: [...rowUniforms(layout), { name: 'largest', type: 'u32' }],
    code: `${rowFunctions(layout)}
fn no_nan(v: ${type}) -> bool { return false; }
// True when (vb, ib) should replace (va, ia): NaN first, then the better value, then the lower index.
fn take(va: ${type}, ia: u32, vb: ${type}, ib: u32) -> bool {
  if (ib == 0xffffffffu) { return false; }
  if (ia == 0xffffffffu) { return true; }
  let na = ${nan}(va);
  let nb = ${nan}(vb);
  if (na || nb) { return nb && (!na || ib < ia); }
  if (vb == va) { return ib < ia; }
  return (vb > va) == (u_largest() != 0u);
}
var<workgroup> best_value: array<${type}, ${wg}>;
var<workgroup> best_index: array<u32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(${ROW_ENTRY}) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= u_rows()) { return; }
  let base = x_row(row);
  var bv = x_load(base);
  var bi = 0xffffffffu;
  for (var l = lid; l < u_len(); l = l + ${wg}u) {
    let v = x_load(base + x_at(l));
    if (take(bv, bi, v, l)) { bv = v; bi = l; }
  }
  best_value[lid] = bv;
  best_index[lid] = bi;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s && take(best_value[lid], best_index[lid], best_value[lid + s], best_index[lid + s])) {
      best_value[lid] = best_value[lid + s];
      best_index[lid] = best_index[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) { out_store(row, i32(best_index[0])); }
}`,
  }));
  backend.dispatch(program, [x, out], { ...rowValues(layout), largest: op === 'argmax' ? 1 : 0 }, backend.grid(layout.rows));
  return out;
}
