import { hostFloat32, hostView, type Tensor, tensor } from '@kvkit/tensor-core';

/**
 * Float rows as the CPU kernels read them, without a full decoded copy: f32 data as is, f16 data as
 * bit patterns (decoded a tile at a time into scratch). bf16 is decoded up front (rare here).
 */
export interface HostFloats {
  data: Float32Array | Uint16Array;
  f16: boolean;
}

/** A float tensor's rows (tensor-core's `hostView`: the CPU storage itself when contiguous, no copy). */
export function hostFloats(t: Tensor): HostFloats {
  if (t.dtype === 'f16') return { data: hostView(t) as Uint16Array, f16: true };
  return { data: hostFloat32(t), f16: false };
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
