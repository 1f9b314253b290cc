import { type Backend, type Matrix, type Tensor, cast, contiguous, reshape, slice, tensor, transpose } from '@kvkit/tensor-core';

/** A float64 basis uploaded as an f32 tensor [rows, cols]. */
export function basisTensor(basis: Matrix, backend: Backend): Tensor {
  return tensor(Float32Array.from(basis.data), [basis.rows, basis.cols], { dtype: 'f32', backend });
}

/** Head `local` of a group basis [groupSize·headDim, r]: its headDim rows, as a view. */
export function headRows(basis: Tensor, local: number, headDim: number): Tensor {
  return slice(basis, [local * headDim, 0], [(local + 1) * headDim, basis.shape[1]]);
}

/**
 * Heads [first, first + count) of x [heads, n, d] as n × (count·d) rows: token t's vectors of those
 * heads side by side, the layout group bases project.
 */
export function groupRows(x: Tensor, first: number, count: number): Tensor {
  const [, n, d] = x.shape;
  const heads = slice(x, [first, 0, 0], [first + count, n, d]);
  const tokensFirst = transpose(heads, [1, 0, 2]);
  try {
    return reshape(tokensFirst, [n, count * d]);
  } finally {
    heads.dispose();
    tokensFirst.dispose();
  }
}

/** `t` as f32 (the tensor itself when it already is; otherwise a copy the caller disposes). */
export function asF32(t: Tensor): Tensor {
  return t.dtype === 'f32' ? t : cast(t, 'f32');
}

/** A contiguous copy of tokens [start, end) of x [heads, n, d] in `dtype`. */
export function tokenRange(x: Tensor, start: number, end: number, dtype: 'f16' | 'f32'): Tensor {
  const view = slice(x, [0, start, 0], [x.shape[0], end, x.shape[2]]);
  try {
    return view.dtype === dtype ? contiguous(view) : cast(view, dtype);
  } finally {
    view.dispose();
  }
}

/** Disposes every tensor given (skipping undefined and the ones listed in `keep`). */
export function disposeAll(tensors: readonly (Tensor | undefined | null)[], keep: readonly Tensor[] = []): void {
  for (const t of tensors) if (t && !keep.includes(t)) t.dispose();
}
