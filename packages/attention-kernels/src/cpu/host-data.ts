import { hostFloat32, hostView, type Tensor, tensor } from '@kvkit/tensor-core';

/**
 * Float rows as the CPU kernels read them, without a full decoded copy: f32 values as they are, f16
 * values as their bit patterns (a Uint16Array; converted a tile at a time where they are read).
 * bf16 is decoded up front (rare here).
 */
export type HostFloats = Float32Array | Uint16Array;

/** A float tensor's rows (tensor-core's `hostView`: the CPU storage itself when contiguous, no copy). */
export function hostFloats(t: Tensor): HostFloats {
  return t.dtype === 'f16' ? (hostView(t) as Uint16Array) : hostFloat32(t);
}

export function hostInts(t: Tensor): Int32Array {
  return hostView(t) as Int32Array;
}

/** Query rows (any float dtype) as float64 numbers, multiplied by `scale`. */
export function scaledQueries(t: Tensor, scale: number): Float64Array {
  const values = hostFloat32(t);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] * scale;
  return out;
}

/** A CPU tensor from float64 results, rounded once to `dtype`. */
export function outputTensor(values: Float64Array, shape: readonly number[], dtype: Tensor['dtype'], backend: Tensor['backend']): Tensor {
  return tensor(values, shape, { dtype, backend });
}
