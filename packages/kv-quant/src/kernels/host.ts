import { type Backend, type DType, hostFloat32, hostView, type Shape, type Tensor, tensor, tensorFromHost, UnsupportedDTypeError } from '@kvkit/tensor-core';

/**
 * Host-side I/O of the CPU kernels, through tensor-core's host views: inputs are read row-major
 * without a copy when they are contiguous (f16/bf16 decoded to f32) — so kernels never write to
 * what they read — and fresh results already in their dtype's array are wrapped without a copy;
 * anything else (f16 outputs, float64 scratch) is encoded (round to nearest even) on the way out.
 */
export function readFloats(t: Tensor, where: string): Float32Array {
  if (t.dtype !== 'f32' && t.dtype !== 'f16' && t.dtype !== 'bf16') {
    throw new UnsupportedDTypeError(`${where}: expected a float tensor, got ${t.dtype}`);
  }
  return hostFloat32(t);
}

export function readWords(t: Tensor): Uint32Array {
  return hostView(t) as Uint32Array;
}

const ADOPTABLE: Partial<Record<DType, new (length: number) => ArrayLike<number>>> = {
  f32: Float32Array,
  i32: Int32Array,
  u32: Uint32Array,
  u8: Uint8Array,
  i8: Int8Array,
};

/** A result tensor from `data`, which the kernel gives up (it must be fresh, never an input's view). */
export function output(backend: Backend, data: ArrayLike<number>, shape: Shape, dtype: DType): Tensor {
  const own = ADOPTABLE[dtype];
  if (own && data instanceof own) return tensorFromHost(data as Float32Array, shape, { dtype, backend });
  return tensor(data, shape, { dtype, backend });
}

/** Rows along the last axis: [count, length]. */
export function rowsOf(t: Tensor): { rows: number; length: number } {
  const length = t.shape[t.rank - 1];
  return { rows: length === 0 ? 0 : t.size / length, length };
}

/**
 * Registers a package's CPU kernels the first time one of its ops runs (the package has no import
 * side effects). Registering the same functions again is a no-op in tensor-core's registry.
 */
export function lazyRegistration(register: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    register();
    done = true;
  };
}
