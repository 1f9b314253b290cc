import { type Backend, type DType, type Shape, type Tensor, tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';

/**
 * Host-side I/O of the CPU kernels: inputs are read row-major (views materialized), outputs are
 * fresh tensors on the same backend. f16 values are decoded to numbers and encoded (round to
 * nearest even) on the way out.
 */
export function readFloats(t: Tensor, where: string): Float32Array {
  if (t.dtype !== 'f32' && t.dtype !== 'f16' && t.dtype !== 'bf16') {
    throw new UnsupportedDTypeError(`${where}: expected a float tensor, got ${t.dtype}`);
  }
  return t.readFloat32Sync();
}

export function readWords(t: Tensor): Uint32Array {
  return t.readSync() as Uint32Array;
}

export function output(backend: Backend, data: ArrayLike<number>, shape: Shape, dtype: DType): Tensor {
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
