import { allocateHostArray, type DType, type HostArray } from '../dtype.js';
import { bf16ArrayToF32, f16ArrayToF32, numberToBf16Bits, numberToF16Bits } from '../float16.js';
import { SharedStorage, Tensor } from '../tensor.js';
import type { Shape } from '../shape.js';
import { type CpuBackend, CpuStorage } from './cpu-backend.js';
import { copyStrided, forEachRun, unitStrideRun } from './strided-runs.js';

/** Numbers as the CPU kernels read them: f16/bf16 decoded, everything else as stored. */
export type NumberArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int32Array | Uint32Array;

function storageData(t: Tensor): HostArray {
  return (t.storage as CpuStorage).data;
}

/** Copies a strided view into row-major order. */
export function gatherStrided<T extends { length: number; [i: number]: number }>(
  src: ArrayLike<number>,
  shape: Shape,
  strides: readonly number[],
  offset: number,
  dst: T,
): T {
  copyStrided(src as { length: number; [i: number]: number }, dst, shape, strides, offset, true);
  return dst;
}

/** The tensor's elements in row-major order, in their host representation; no copy when possible. */
export function readRaw(t: Tensor): HostArray {
  const data = storageData(t);
  if (t.isContiguous()) {
    if (t.offset === 0 && t.size === data.length) return data;
    return data.subarray(t.offset, t.offset + t.size);
  }
  return gatherStrided(data, t.shape, t.strides, t.offset, allocateHostArray(t.dtype, t.size));
}

/** The tensor's elements in their host representation, row-major, copied into `dst` (same element type). */
export function readRawInto(t: Tensor, dst: HostArray): void {
  const data = storageData(t);
  if (t.isContiguous()) dst.set(data.subarray(t.offset, t.offset + t.size) as never);
  else gatherStrided(data, t.shape, t.strides, t.offset, dst);
}

/** The tensor's elements as numbers (f16/bf16 decoded to f32), row-major; no copy when possible. */
export function readNumbers(t: Tensor): NumberArray {
  const raw = readRaw(t);
  if (t.dtype === 'f16') return f16ArrayToF32(raw as Uint16Array);
  if (t.dtype === 'bf16') return bf16ArrayToF32(raw as Uint16Array);
  return raw as NumberArray;
}

/**
 * The elements of an f32, f16 or bf16 tensor as f32 into `dst` (row-major, its first t.size
 * values), decoded straight from storage: a strided view (a dense cache's first n of its capacity
 * rows) is read a contiguous run at a time, with no intermediate copy.
 */
export function readFloat32Into(t: Tensor, dst: Float32Array): void {
  const data = storageData(t);
  const decode = (from: number, length: number, at: number) => {
    const target = dst.subarray(at, at + length);
    if (t.dtype === 'f16') f16ArrayToF32((data as Uint16Array).subarray(from, from + length), target);
    else if (t.dtype === 'bf16') bf16ArrayToF32((data as Uint16Array).subarray(from, from + length), target);
    else target.set((data as Float32Array).subarray(from, from + length));
  };
  if (t.size === 0) return;
  if (t.isContiguous()) {
    decode(t.offset, t.size, 0);
    return;
  }
  // The trailing axes laid out row-major form one contiguous run; the leading ones are walked.
  const { shape, strides } = t;
  const { outerAxes, run } = unitStrideRun(shape, strides);
  forEachRun(shape, strides, t.offset, outerAxes, run, t.size, (base, at) => decode(base, run, at));
}

/** Integer indices of an i32/u32 tensor, row-major. */
export function readIndices(t: Tensor): Int32Array | Uint32Array {
  return readRaw(t) as Int32Array | Uint32Array;
}

/**
 * A scratch array for results of `dtype`: kernels write plain numbers into it and `wrapOutput`
 * encodes them. f16/bf16 results are computed in float64 and rounded once, so no double rounding.
 */
export function outputBuffer(dtype: DType, length: number): NumberArray {
  if (dtype === 'f16' || dtype === 'bf16') return new Float64Array(length);
  return allocateHostArray(dtype, length) as NumberArray;
}

export function encode(dtype: DType, values: NumberArray): HostArray {
  if (dtype === 'f16') {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = numberToF16Bits(values[i]);
    return out;
  }
  if (dtype === 'bf16') {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = numberToBf16Bits(values[i]);
    return out;
  }
  if (values instanceof Float64Array) {
    const out = allocateHostArray(dtype, values.length);
    out.set(values);
    return out;
  }
  return values as HostArray;
}

/** A tensor on the CPU holding `values` (from `outputBuffer`), encoded as `dtype`. */
export function wrapOutput(backend: CpuBackend, shape: Shape, dtype: DType, values: NumberArray): Tensor {
  return wrapRaw(backend, shape, dtype, encode(dtype, values));
}

/** A tensor over raw host data (already in `dtype`'s representation), without copying. */
export function wrapRaw(backend: CpuBackend, shape: Shape, dtype: DType, raw: HostArray): Tensor {
  return new Tensor(new SharedStorage(backend, backend.adopt(raw)), shape, dtype);
}

/** The writable storage array of a tensor (for in-place kernels). */
export function writableData(t: Tensor): HostArray {
  return storageData(t);
}
