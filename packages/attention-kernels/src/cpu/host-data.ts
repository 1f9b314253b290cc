import {
  bf16ArrayToF32,
  contiguous,
  type CpuStorage,
  f16ArrayToF32,
  InvalidConfigError,
  type Tensor,
  tensor,
} from '@kvkit/tensor-core';

/**
 * Float rows as the CPU kernels read them, without a full decoded copy: f32 data as is, f16 data as
 * bit patterns (decoded a tile at a time into scratch). bf16 is decoded up front (rare here).
 */
export interface HostFloats {
  data: Float32Array | Uint16Array;
  f16: boolean;
}

/** The row-major elements of a CPU tensor in their stored representation; a copy only for strided views. */
export function hostRaw(t: Tensor): Float32Array | Uint16Array | Int32Array | Uint32Array {
  if (t.backend.name !== 'cpu') throw new InvalidConfigError(`CPU attention kernel got a tensor on "${t.backend.name}"`);
  if (t.isContiguous()) {
    const data = (t.storage as CpuStorage).data as Float32Array | Uint16Array | Int32Array | Uint32Array;
    return t.offset === 0 && t.size === data.length ? data : data.subarray(t.offset, t.offset + t.size);
  }
  const packed = contiguous(t);
  try {
    return hostRaw(packed); // the copy outlives the tensor: CPU storage is a plain typed array
  } finally {
    packed.dispose();
  }
}

export function hostFloats(t: Tensor): HostFloats {
  const raw = hostRaw(t);
  if (t.dtype === 'f16') return { data: raw as Uint16Array, f16: true };
  if (t.dtype === 'bf16') return { data: bf16ArrayToF32(raw as Uint16Array), f16: false };
  return { data: raw as Float32Array, f16: false };
}

export function hostInts(t: Tensor): Int32Array {
  return hostRaw(t) as Int32Array;
}

/** Query rows (any float dtype) as float64 numbers, multiplied by `scale`. */
export function scaledQueries(t: Tensor, scale: number): Float64Array {
  const { data, f16 } = hostFloats(t);
  const values = f16 ? f16ArrayToF32(data as Uint16Array) : data;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] * scale;
  return out;
}

/** A CPU tensor from float64 results, rounded once to `dtype`. */
export function outputTensor(values: Float64Array, shape: readonly number[], dtype: Tensor['dtype'], backend: Tensor['backend']): Tensor {
  return tensor(values, shape, { dtype, backend });
}
