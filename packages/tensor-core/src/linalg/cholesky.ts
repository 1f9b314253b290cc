import { InvalidConfigError, NotPositiveDefiniteError, ShapeMismatchError } from '../errors.js';
import type { Matrix } from './matrix.js';
import { dotProduct, requireFiniteMatrix, requireSquareMatrix } from './matrix-ops.js';
import { solveTriangular } from './triangular.js';

export interface CholeskyOptions {
  /** Added to every diagonal entry before factoring (default 0): regularizes a semidefinite matrix. */
  jitter?: number;
}

/**
 * Lower-triangular L with A + jitter·I = L Lᵀ, row by row (the Cholesky–Banachiewicz order, so each
 * entry is a dot product of two contiguous rows of L; Golub & Van Loan §4.2). Only the lower
 * triangle of A is read. A pivot that is not positive, or that is below the rounding level
 * ε·max(diagonal) — where it would be noise rather than information — means A is not numerically
 * positive definite: NotPositiveDefiniteError names the pivot.
 */
export function cholesky(a: Matrix, options: CholeskyOptions = {}): Matrix {
  requireSquareMatrix(a, 'cholesky');
  requireFiniteMatrix(a, 'cholesky');
  const jitter = options.jitter ?? 0;
  if (!Number.isFinite(jitter) || jitter < 0) {
    throw new InvalidConfigError(`cholesky: jitter must be a finite number >= 0, got ${jitter}`, { jitter });
  }
  const n = a.rows;
  const ad = a.data;
  let maxDiagonal = 0;
  for (let i = 0; i < n; i++) maxDiagonal = Math.max(maxDiagonal, Math.abs(ad[i * n + i] + jitter));
  const pivotFloor = Number.EPSILON * maxDiagonal;

  const l = new Float64Array(n * n);
  // Rows are computed four at a time: each already-finished row j is read once for all four dot
  // products (register blocking), which quarters the memory traffic of the O(n³/6) inner loop.
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    for (let j = 0; j < i; j++) {
      const rowJ = j * n;
      let s0 = ad[r0 + j];
      let s1 = ad[r1 + j];
      let s2 = ad[r2 + j];
      let s3 = ad[r3 + j];
      for (let k = 0; k < j; k++) {
        const ljk = l[rowJ + k];
        s0 -= l[r0 + k] * ljk;
        s1 -= l[r1 + k] * ljk;
        s2 -= l[r2 + k] * ljk;
        s3 -= l[r3 + k] * ljk;
      }
      const pivot = l[rowJ + j];
      l[r0 + j] = s0 / pivot;
      l[r1 + j] = s1 / pivot;
      l[r2 + j] = s2 / pivot;
      l[r3 + j] = s3 / pivot;
    }
    // The 4×4 diagonal block, row by row.
    for (let row = i; row < i + 4; row++) finishRow(ad, l, n, row, i, jitter, pivotFloor);
  }
  for (; i < n; i++) finishRow(ad, l, n, i, 0, jitter, pivotFloor);
  return { rows: n, cols: n, data: l };
}

/** Entries from..i of row i of L, given its entries before `from` and all rows above. */
function finishRow(ad: Float64Array, l: Float64Array, n: number, i: number, from: number, jitter: number, pivotFloor: number): void {
  const rowI = i * n;
  for (let j = from; j <= i; j++) {
    const rowJ = j * n;
    const sum = ad[rowI + j] - dotProduct(l, rowI, l, rowJ, j);
    if (j < i) {
      l[rowI + j] = sum / l[rowJ + j];
      continue;
    }
    const pivot = sum + jitter;
    if (!(pivot > pivotFloor)) {
      throw new NotPositiveDefiniteError(
        `cholesky: the matrix is not positive definite: pivot ${i} is ${pivot}` +
          (pivot > 0 ? ` (below the rounding level ${pivotFloor})` : '') +
          `; a symmetric positive definite matrix is required (a positive jitter regularizes a semidefinite one)`,
        { pivot: i, value: pivot, jitter },
      );
    }
    l[rowI + i] = Math.sqrt(pivot);
  }
}

/** X with A X = B given A's Cholesky factor L (A = L Lᵀ): forward then back substitution. */
export function choleskySolve(l: Matrix, b: Matrix): Matrix {
  requireSquareMatrix(l, 'choleskySolve');
  if (b.rows !== l.rows) {
    throw new ShapeMismatchError(`choleskySolve: L is ${l.rows}×${l.cols} but B has ${b.rows} rows; they must agree`, {
      l: [l.rows, l.cols],
      b: [b.rows, b.cols],
    });
  }
  const y = solveTriangular(l, b, { lower: true });
  return solveTriangular(l, y, { lower: true, transpose: true });
}
