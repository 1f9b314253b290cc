import { bytesPerElement, type DType, integerRange } from '../../dtype.js';
import { encodeNumbers } from '../../ops/creation.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend, WebGpuStorage } from '../backend.js';
import { computeType, rawAlias } from '../wgsl/dtypes.js';
import { coalesceDims, indexFunction, isRowMajor, operandUniforms } from '../wgsl/strided.js';
import type { UniformValues } from '../wgsl/uniforms.js';
import { runMap } from './map.js';

/** A row-major copy of `x` (a DMA copy when the bytes are 4-aligned, otherwise a bit-moving kernel). */
export function contiguousCopy(backend: WebGpuBackend, x: Tensor): Tensor {
  const bpe = bytesPerElement(x.dtype);
  if (x.isContiguous() && (x.offset * bpe) % 4 === 0 && (x.size * bpe) % 4 === 0) {
    const out = backend.empty(x.shape, x.dtype);
    backend.copyBuffer(x.storage as WebGpuStorage, x.offset * bpe, out.storage as WebGpuStorage, 0, x.size * bpe);
    return out;
  }
  return runMap(backend, {
    key: 'copy',
    shape: x.shape,
    operands: [{ name: 'x', tensor: x }],
    dtype: x.dtype,
    raw: true,
    value: 'fn value(i: u32) -> u32 { return x_raw(x_index(i)); }',
  });
}

/** WGSL converting the compute-type value `v` of `from` into the compute type of `to`, as the CPU cast does. */
function conversion(from: DType, to: DType): string {
  const src = computeType(from);
  const dst = computeType(to);
  const range = integerRange(to);
  if (!range) return src === 'f32' ? 'v' : 'f32(v)'; // → float: the store rounds to f16/bf16
  const lit = (n: number) => (dst === 'i32' ? i32Literal(n) : `${n >>> 0}u`);
  if (src === 'f32') {
    // Truncate toward zero, saturate, NaN → 0. Bounds compared in f32: 2^31 and 2^32 are exact there.
    const hi = range.max + 1;
    return `select(select(select(${dst}(trunc(v)), ${lit(range.min)}, trunc(v) <= ${range.min}.0), ${lit(range.max)}, trunc(v) >= ${hi}.0), ${lit(0)}, is_nan(v))`;
  }
  if (src === 'i32') {
    if (dst === 'i32') return `clamp(v, ${lit(range.min)}, ${lit(range.max)})`;
    return `u32(clamp(v, 0i, ${Math.min(range.max, 0x7fffffff)}i))`;
  }
  // u32 source
  return dst === 'u32' ? `min(v, ${range.max >>> 0}u)` : `i32(min(v, ${range.max}u))`;
}

/** An i32 literal; -2^31 cannot be written directly (the minus applies to an out-of-range 2^31). */
function i32Literal(n: number): string {
  return n === -0x80000000 ? '(-2147483647i - 1i)' : `${n}i`;
}

/**
 * `body` on `inputs` with every view among them copied to a row-major tensor first (the
 * contiguous ones as they are); the copies are released when `body` returns.
 */
export function withContiguous<T>(backend: WebGpuBackend, inputs: readonly Tensor[], body: (staged: Tensor[]) => T): T {
  const staged = inputs.map((t) => (t.isContiguous() ? t : contiguousCopy(backend, t)));
  try {
    return body(staged);
  } finally {
    staged.forEach((t, i) => {
      if (t !== inputs[i]) t.dispose();
    });
  }
}

/** `x` converted to `dtype` with the CPU backend's rules (round to nearest even; float → int truncates and saturates; NaN → 0). */
export function castTensor(backend: WebGpuBackend, x: Tensor, dtype: DType): Tensor {
  if (dtype === x.dtype) return contiguousCopy(backend, x);
  return runMap(backend, {
    key: `cast:${x.dtype}`,
    shape: x.shape,
    operands: [{ name: 'x', tensor: x }],
    dtype,
    value: `fn value(i: u32) -> ${computeType(dtype)} { let v = x_load(x_index(i)); return ${conversion(x.dtype, dtype)}; }`,
  });
}

/** A new tensor of `shape` filled with `value` (checked against the dtype like the CPU does). */
export function fillTensor(backend: WebGpuBackend, shape: readonly number[], dtype: DType, value: number): Tensor {
  const encoded = encodeNumbers([value], dtype, 'full');
  const bits = new Uint32Array(1);
  new Uint8Array(bits.buffer).set(new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength));
  if (bits[0] === 0) return backend.zeros(shape, dtype);
  return runMap(backend, {
    key: 'fill',
    shape,
    operands: [],
    uniforms: { fields: [{ name: 'bits', type: 'u32' }], values: { bits: bits[0] } },
    dtype,
    raw: true,
    value: 'fn value(i: u32) -> u32 { return u_bits(); }',
  });
}

const WORKGROUP = 256;

/**
 * Writes `source` into the view `target` in place. One invocation per element; sub-word dtypes go
 * through the atomic per-element store (a strided view may share words with elements it does not
 * own). A source that shares storage with the target is copied first (the CPU reads it fully first).
 */
export function assignInto(backend: WebGpuBackend, target: Tensor, source: Tensor): void {
  if (target.size === 0) return;
  const bpe = bytesPerElement(target.dtype);
  if (source.shared === target.shared) {
    const copy = contiguousCopy(backend, source);
    try {
      assignInto(backend, target, copy);
    } finally {
      copy.dispose();
    }
    return;
  }
  if (target.isContiguous() && source.isContiguous() && (target.offset * bpe) % 4 === 0 && (source.offset * bpe) % 4 === 0 && (target.size * bpe) % 4 === 0) {
    backend.copyBuffer(source.storage as WebGpuStorage, source.offset * bpe, target.storage as WebGpuStorage, target.offset * bpe, target.size * bpe);
    return;
  }
  const merged = coalesceDims(target.shape, [target.strides, source.strides]);
  const rank = merged.shape.length;
  const [tContiguous, sContiguous] = merged.strides.map((s) => isRowMajor(merged.shape, s));
  const dtype = rawAlias(target.dtype);
  const program = backend.program(`assign:${dtype}:r${rank}:${tContiguous ? 'c' : 's'}${sContiguous ? 'c' : 's'}`, () => ({
    bindings: [
      { name: 'src', dtype, access: 'read' },
      { name: 'dst', dtype, access: 'write' },
    ],
    uniforms: [
      { name: 'count', type: 'u32' },
      ...(rank > 0 ? [{ name: 'shape', type: 'u32' as const, length: rank }] : []),
      ...operandUniforms('src', rank, sContiguous),
      ...operandUniforms('dst', rank, tContiguous),
    ],
    code: `${indexFunction('src', rank, sContiguous)}
${indexFunction('dst', rank, tContiguous)}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (i >= u_count()) { return; }
  dst_store_raw(dst_index(i), src_raw(src_index(i)));
}`,
  }));
  const values: UniformValues = { count: target.size, src_offset: source.offset, dst_offset: target.offset };
  if (rank > 0) values.shape = merged.shape;
  if (!sContiguous && rank > 0) values.src_strides = merged.strides[1];
  if (!tContiguous && rank > 0) values.dst_strides = merged.strides[0];
  backend.dispatch(program, [source, target], values, backend.grid(Math.ceil(target.size / WORKGROUP)));
}

/** Joins `inputs` along `axis`: each input is assigned into its slice of the output. */
export function concatTensors(backend: WebGpuBackend, inputs: readonly Tensor[], axis: number): Tensor {
  const first = inputs[0];
  const shape = [...first.shape];
  shape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
  const out = backend.empty(shape, first.dtype);
  let start = 0;
  for (const t of inputs) {
    const view = out.view(t.shape, out.strides, start * out.strides[axis]);
    try {
      assignInto(backend, view, t);
    } finally {
      view.dispose();
    }
    start += t.shape[axis];
  }
  return out;
}
