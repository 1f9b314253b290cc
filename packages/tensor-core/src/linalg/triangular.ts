import { InvalidConfigError, ShapeMismatchError } from '../errors.js';
import type { Matrix } from './matrix.js';
import { axpy, requireSquareMatrix } from './matrix-ops.js';
import { addressOf, SimdArena } from '../simd/simd-arena.js';

export interface TriangularSolveOptions {
  /** T is lower triangular (default true); otherwise upper. Only that triangle of T is read. */
  lower?: boolean;
  /** Solve Tᵀ X = B instead of T X = B (default false). */
  transpose?: boolean;
  /** Take T's diagonal as all ones without reading it (default false). */
  unitDiagonal?: boolean;
}

/**
 * X with T X = B (or Tᵀ X = B) for triangular T (n×n) and B (n×k), by substitution. Without the
 * transpose each row of X is a combination of already-solved rows ("dot" form, reading row i of T);
 * with it, each solved row is subtracted from the remaining ones ("axpy" form), which also reads
 * T by rows, so neither orientation walks down a column of T.
 */
export function solveTriangular(t: Matrix, b: Matrix, options: TriangularSolveOptions = {}): Matrix {
  requireSquareMatrix(t, 'solveTriangular');
  const n = t.rows;
  if (b.rows !== n) {
    throw new ShapeMismatchError(`solveTriangular: T is ${n}×${n} but B has ${b.rows} rows; they must agree`, {
      t: [n, n],
      b: [b.rows, b.cols],
    });
  }
  const lower = options.lower ?? true;
  const transpose = options.transpose ?? false;
  const unitDiagonal = options.unitDiagonal ?? false;
  const k = b.cols;
  const td = t.data;
  const x = Float64Array.from(b.data);
  if (!unitDiagonal) requireNonzeroDiagonal(t, 'solveTriangular');

  // The system matrix M = op(T) is lower triangular exactly when T is lower xor transposed; a lower
  // M is solved top-down, an upper one bottom-up.
  const forward = lower !== transpose;
  if (k === 1) {
    solveVector(td, n, x, lower, transpose, unitDiagonal);
    return { rows: n, cols: 1, data: x };
  }
  for (let step = 0; step < n; step++) {
    const i = forward ? step : n - 1 - step;
    const xi = i * k;
    if (!transpose) {
      // Row i of M = row i of T: subtract its already-solved part, then divide.
      const from = lower ? 0 : i + 1;
      const to = lower ? i : n;
      for (let j = from; j < to; j++) {
        const tij = td[i * n + j];
        if (tij !== 0) axpy(-tij, x, j * k, x, xi, k);
      }
      if (!unitDiagonal) divideRow(x, xi, k, td[i * n + i]);
    } else {
      // Column i of M = row i of T: finish x_i, then remove it from the rows still to be solved.
      if (!unitDiagonal) divideRow(x, xi, k, td[i * n + i]);
      const from = lower ? 0 : i + 1;
      const to = lower ? i : n;
      for (let j = from; j < to; j++) {
        const tij = td[i * n + j];
        if (tij !== 0) axpy(-tij, x, xi, x, j * k, k);
      }
    }
  }
  return { rows: n, cols: k, data: x };
}

/**
 * The one-column case with the row loops written out: the same operations in the same order as the
 * general loop (which calls axpy once per entry of T, and that call dominates when k = 1).
 */
function solveVector(td: Float64Array, n: number, x: Float64Array, lower: boolean, transpose: boolean, unitDiagonal: boolean): void {
  const forward = lower !== transpose;
  for (let step = 0; step < n; step++) {
    const i = forward ? step : n - 1 - step;
    const row = i * n;
    const from = lower ? 0 : i + 1;
    const to = lower ? i : n;
    if (!transpose) {
      let xi = x[i];
      for (let j = from; j < to; j++) xi -= td[row + j] * x[j];
      x[i] = unitDiagonal ? xi : xi / td[row + i];
    } else {
      const xi = unitDiagonal ? x[i] : x[i] / td[row + i];
      x[i] = xi;
      for (let j = from; j < to; j++) x[j] -= td[row + j] * xi;
    }
  }
}

function divideRow(x: Float64Array, offset: number, length: number, pivot: number): void {
  for (let c = 0; c < length; c++) x[offset + c] /= pivot;
}

/** Throws InvalidConfigError naming the first zero or non-finite diagonal entry of T. */
function requireNonzeroDiagonal(t: Matrix, where: string): void {
  const n = t.rows;
  for (let i = 0; i < n; i++) {
    const pivot = t.data[i * n + i];
    if (pivot === 0 || !Number.isFinite(pivot)) {
      throw new InvalidConfigError(`${where}: singular triangular matrix: diagonal entry ${i} is ${pivot}`, { index: i, value: pivot });
    }
  }
}

/** Solves with one lower-triangular L: x = L⁻¹b, or L⁻ᵀb with `transpose`. */
export type LowerTriangularSolver = (b: Matrix, transpose?: boolean) => Matrix;

/** Right-hand columns a multi-column solve takes per pass (its area holds n × this many values). */
const SOLVE_COLUMNS = 16;

/**
 * For an iterative method that solves with the same lower-triangular L every step (a
 * preconditioner's factors): L is checked and copied into WebAssembly memory once, and each solve
 * runs there: one column by `lowerSolveVector` (SIMD dots top-down, or axpys bottom-up for Lᵀ),
 * about 4× solveTriangular's scalar loops at order 500, whose dots sum in pairs (results agree
 * with solveTriangular's to rounding); several columns by `lowerSolveRows`, up to 16 in one pass
 * over L, each entry summed as solveTriangular's loop sums it (the same values unless the engine
 * fuses multiply-adds: `setFusedMultiplyAdd`). Without SIMD it is solveTriangular.
 */
export function lowerTriangularSolver(l: Matrix): LowerTriangularSolver {
  requireSquareMatrix(l, 'lowerTriangularSolver');
  requireNonzeroDiagonal(l, 'lowerTriangularSolver');
  const n = l.rows;
  const arena = SimdArena.create([n * n, n * SOLVE_COLUMNS]);
  if (!arena) return (b, transpose = false) => solveTriangular(l, b, { lower: true, transpose });
  const [resident, x] = arena.arrays;
  resident.set(l.data);
  return (b, transpose = false) => {
    if (b.rows !== n) return solveTriangular(l, b, { lower: true, transpose }); // its shape error
    const k = b.cols;
    const out = new Float64Array(n * k);
    if (k === 1) {
      x.set(b.data);
      arena.kernels.lowerSolveVector(addressOf(resident), n, addressOf(x), transpose ? 1 : 0);
      out.set(x.subarray(0, n));
      return { rows: n, cols: 1, data: out };
    }
    for (let c0 = 0; c0 < k; c0 += SOLVE_COLUMNS) {
      const w = Math.min(SOLVE_COLUMNS, k - c0);
      for (let i = 0; i < n; i++) for (let c = 0; c < w; c++) x[i * w + c] = b.data[i * k + c0 + c];
      arena.kernels.lowerSolveRows(addressOf(resident), n, addressOf(x), w, transpose ? 1 : 0);
      for (let i = 0; i < n; i++) for (let c = 0; c < w; c++) out[i * k + c0 + c] = x[i * w + c];
    }
    return { rows: n, cols: k, data: out };
  };
}
