import { createRng, type Matrix, matmulMatrix, qr, svd, transposeMatrix } from '@kvkit/tensor-core';
import { leadingColumns } from './linalg.js';

export interface SymmetricRandomizedSvdOptions {
  oversample: number;
  powerIterations: number;
  seed: number;
}

/**
 * tensor-core's `randomizedSvd` (Halko, Martinsson & Tropp 2011, Alg. 4.4 then 5.1) for a symmetric
 * n×n operator whose product is asynchronous (a device KernelMatrix): the same Gaussian sketch from
 * the same seed, the same power iterations (Aᵀ = A, so each is two products with A) and QR / SVD
 * steps on the host in float64, so with exact products it returns tensor-core's result. Only the
 * leading `rank` singular vectors and values are returned.
 */
export async function symmetricRandomizedSvdAsync(
  multiply: (v: Matrix) => Promise<Matrix>,
  n: number,
  rank: number,
  options: SymmetricRandomizedSvdOptions,
): Promise<{ u: Matrix; s: Float64Array }> {
  const rng = createRng(options.seed);
  const sketchSize = Math.min(rank + options.oversample, n);
  const omega = new Float64Array(n * sketchSize);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  let basis = qr(await multiply({ rows: n, cols: sketchSize, data: omega })).q;
  for (let iteration = 0; iteration < options.powerIterations; iteration++) {
    const rowSpace = qr(await multiply(basis)).q;
    basis = qr(await multiply(rowSpace)).q;
  }
  // B = Qᵀ A = (A Q)ᵀ for symmetric A.
  const factors = svd(transposeMatrix(await multiply(basis)));
  return { u: leadingColumns(matmulMatrix(basis, factors.u), rank), s: factors.s.slice(0, rank) };
}
