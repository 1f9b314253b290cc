import { type Tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { type CudaBackend, rowMajor } from '@kvkit/tensor-core/cuda';
import floatKindHeader from './kvquant/float-kind.cuh';

/**
 * Float operands whose dtype is a kernel argument rather than a template parameter, so one kernel
 * serves every mix of f32, f16 and bf16 inputs (the LUT and outlier modules include this header).
 */
export const FLOAT_KIND_HEADER: Readonly<Record<string, string>> = { 'kvquant/float-kind.cuh': floatKindHeader };

const KINDS: Partial<Record<string, number>> = { f32: 0, f16: 1, bf16: 2 };

/** The `kind` argument of `kv_load_float` for a tensor (a typed error for non-float dtypes). */
export function floatKind(t: Tensor, where: string): number {
  const kind = KINDS[t.dtype];
  if (kind === undefined) throw new UnsupportedDTypeError(`${where} (cuda): expected a float tensor, got ${t.dtype}`);
  return kind;
}

/** Row-major versions of `tensors` (absent ones stay absent) for the duration of `body`. */
export function withRowMajor<T>(backend: CudaBackend, tensors: (Tensor | undefined)[], body: (views: (Tensor | undefined)[]) => T): T {
  const views = tensors.map((t) => t && rowMajor(backend, t));
  try {
    return body(views);
  } finally {
    for (const v of views) v?.dispose();
  }
}
