import { InvalidConfigError } from '../errors.js';
import { eigenpairRows } from './eigh.js';
import type { Matrix } from './matrix.js';
import { matmulMatrix } from './matrix-ops.js';

export interface SymmetricMatrixFunctionOptions {
  /**
   * Largest accepted asymmetry max|aᵢⱼ − aⱼᵢ| relative to max|aᵢⱼ|; default 1e-8, as `eigh`. Within
   * it the matrix is symmetrized as (A + Aᵀ)/2.
   */
  tolerance?: number;
}

/**
 * f(A) = V·diag(f(λ))·Vᵀ for the symmetric A = V·diag(λ)·Vᵀ: A^{−1/2} with
 * `(λ) => Math.max(λ, floor) ** -0.5`, exp(A), a spectral projector, …. `f` must give a finite
 * number for every eigenvalue. The result is exactly symmetric.
 *
 * The eigenpairs are `eigh`'s (the same tridiagonalization, divide and conquer and
 * back-transformation), but f(A) = Σⱼ f(λⱼ)·vⱼvⱼᵀ is then summed straight from the vectors as
 * rows: the symmetric Gram products PᵀP − NᵀN, where P's rows are √f(λⱼ)·vⱼ for f(λⱼ) > 0 and N's
 * √−f(λⱼ)·vⱼ for f(λⱼ) < 0 (pairs with f(λⱼ) = 0 drop out). That is n³/2 multiply-adds, the upper
 * triangle only, with no sorting, signing or transposing of the vectors.
 *
 * (Applying the tridiagonalization's reflections to both sides of Z·f(Λ)·Zᵀ instead, Z the
 * tridiagonal's eigenvectors, costs n³/2 for that product and 7n³/6 for the two-sided
 * application, against n³ for the back-transformation here.)
 */
export function symmetricMatrixFunction(a: Matrix, f: (eigenvalue: number) => number, options: SymmetricMatrixFunctionOptions = {}): Matrix {
  const where = 'symmetricMatrixFunction';
  const { values, rows } = eigenpairRows(a, { tolerance: options.tolerance }, where);
  const n = values.length;
  const weights = values.map((value, j) => {
    const weight = f(value);
    if (!Number.isFinite(weight)) {
      throw new InvalidConfigError(`${where}: f(${value}) = ${weight} is not a finite number (eigenvalue ${j})`, { eigenvalue: value, index: j });
    }
    return weight;
  });
  const negativeCount = weights.reduce((sum, weight) => sum + (weight < 0 ? 1 : 0), 0);
  const negative = scaledRowsOfSign(rows, weights, n, -1, new Float64Array(negativeCount * n));
  const positive = scaledRowsOfSign(rows, weights, n, 1, rows); // last: it overwrites the rows
  const result = symmetricGram(positive, n);
  if (negative.rows > 0) {
    const subtracted = symmetricGram(negative, n).data;
    for (let i = 0; i < n * n; i++) result.data[i] -= subtracted[i];
  }
  return result;
}

/**
 * The rows j with sign(weights[j]) = `sign`, each times √|weights[j]|, packed from the start of
 * `out` (which may be `rows` itself: row j only moves up, to a slot already read).
 */
function scaledRowsOfSign(rows: Float64Array, weights: Float64Array, n: number, sign: 1 | -1, out: Float64Array): Matrix {
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (Math.sign(weights[j]) !== sign) continue;
    const scale = Math.sqrt(Math.abs(weights[j]));
    const from = j * n;
    const to = count * n;
    for (let k = 0; k < n; k++) out[to + k] = scale * rows[from + k];
    count++;
  }
  return { rows: count, cols: n, data: out.subarray(0, count * n) };
}

/** XᵀX (n×n) of the count × n `x`: matmulMatrix's symmetric product (upper triangle, mirrored); zero for no rows. */
function symmetricGram(x: Matrix, n: number): Matrix {
  if (x.rows === 0) return { rows: n, cols: n, data: new Float64Array(n * n) };
  return matmulMatrix(x, x, { transposeA: true });
}
