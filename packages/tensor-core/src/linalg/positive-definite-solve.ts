import { InvalidConfigError, NotPositiveDefiniteError, ShapeMismatchError } from '../errors.js';
import type { Matrix } from './matrix.js';
import { blockedCholesky, cholesky, choleskySolve, pivotRule, requireJitter } from './cholesky.js';
import { requireFiniteMatrix, requireSquareMatrix } from './matrix-ops.js';
import { lowerTriangularSolver } from './triangular.js';

export interface PositiveDefiniteSolveOptions {
  /** Added to every diagonal entry of A (default 0), as `cholesky`'s jitter: solves (A + jitter·I) X = B. */
  jitter?: number;
  /**
   * 'mixed' (default): factor in float32 and refine in float64 (below), from order 2000 on (smaller
   * systems take the float64 path); 'float64': `cholesky` then `choleskySolve`.
   */
  precision?: 'mixed' | 'float64';
  /** Refinement steps the mixed solve may take before it falls back to float64 (default 30, LAPACK's). */
  maxRefinements?: number;
}

export interface PositiveDefiniteSolution {
  x: Matrix;
  /** What produced x: the refined float32 factorization, or the float64 one. */
  precision: 'mixed' | 'float64';
  /** Refinement steps taken (0 when the first solve already met the tolerance, or with float64). */
  refinements: number;
}

// Below this order the refinement's passes over A and L and the arenas cost what float32 saves
// (break-even near 1600 on 2 vCPUs with and without fused multiply-adds; 1.15× at 2500, 1.4× at 4000).
const MIXED_MIN_ORDER = 2000;
const FLOAT32_EPSILON = 2 ** -23;

/**
 * X with (A + jitter·I) X = B for a symmetric positive definite A (its lower triangle is read), as
 * LAPACK's dsposv computes it: Cholesky in float32 — its trailing updates, the O(n³/6) part, run
 * twice the multiply-adds per SIMD instruction of float64 — then iterative refinement in float64,
 * X ← X + (L Lᵀ)⁻¹(B − (A + jitter·I)X), until every column's residual is at float64's backward-error
 * level, ‖r‖∞ ≤ ‖x‖∞·‖A + jitter·I‖∞·ε·√n (dsposv's test). The answer is then as accurate as the
 * float64 factorization's. Where float32 cannot give it — a pivot at or below float32's rounding
 * level (condition numbers near 10⁷ and above), a residual that does not halve each step, or
 * `maxRefinements` steps spent — it falls back to the float64 factorization, which also raises
 * NotPositiveDefiniteError for a matrix that is not positive definite. `precision` says which ran.
 */
export function positiveDefiniteSolve(a: Matrix, b: Matrix, options: PositiveDefiniteSolveOptions = {}): PositiveDefiniteSolution {
  const where = 'positiveDefiniteSolve';
  requireSquareMatrix(a, where);
  requireFiniteMatrix(a, where);
  requireFiniteMatrix(b, where);
  if (b.rows !== a.rows) {
    throw new ShapeMismatchError(`${where}: A is ${a.rows}×${a.cols} but B has ${b.rows} rows; they must agree`, { a: [a.rows, a.cols], b: [b.rows, b.cols] });
  }
  const jitter = requireJitter(options.jitter, where);
  const precision = options.precision ?? 'mixed';
  if (precision !== 'mixed' && precision !== 'float64') throw new InvalidConfigError(`${where}: precision must be 'mixed' or 'float64', got ${String(precision)}`);
  const maxRefinements = options.maxRefinements ?? 30;
  if (!Number.isInteger(maxRefinements) || maxRefinements < 0) {
    throw new InvalidConfigError(`${where}: maxRefinements must be an integer >= 0, got ${maxRefinements}`, { maxRefinements });
  }
  const mixed = precision === 'mixed' && a.rows >= MIXED_MIN_ORDER ? refinedSolve(a, b, jitter, maxRefinements) : null;
  return mixed ?? { x: choleskySolve(cholesky(a, { jitter }), b), precision: 'float64', refinements: 0 };
}

/** The mixed-precision solve, or null where it cannot reach float64 accuracy (the caller falls back). */
function refinedSolve(a: Matrix, b: Matrix, jitter: number, maxRefinements: number): PositiveDefiniteSolution | null {
  const n = a.rows;
  let factor: Float64Array | null;
  try {
    // A pivot below float32's rounding level carries no information in float32: fall back.
    factor = blockedCholesky(a.data, n, pivotRule(a, jitter, FLOAT32_EPSILON), 'float32');
  } catch (error) {
    if (error instanceof NotPositiveDefiniteError) return null;
    throw error;
  }
  if (!factor) return null;
  const solveTriangular = lowerTriangularSolver({ rows: n, cols: n, data: factor });
  const solve = (r: Matrix): Matrix => solveTriangular(solveTriangular(r), true);
  const tolerance = symmetricInfinityNorm(a, jitter) * Number.EPSILON * Math.sqrt(n);
  const x = solve(b);
  let previous = Infinity;
  for (let step = 0; ; step++) {
    const r = residual(a, b, x, jitter);
    const { converged, size } = residualTest(r, x, tolerance);
    if (converged) return { x, precision: 'mixed', refinements: step };
    // Each step shrinks the error by about κ·ε₃₂; where it does not halve it, float32 is not enough.
    if (step === maxRefinements || !(size <= previous / 2)) return null;
    previous = size;
    const correction = solve(r).data;
    for (let i = 0; i < x.data.length; i++) x.data[i] += correction[i];
  }
}

/**
 * B − (A + jitter·I)X for the symmetric A whose lower triangle is A's, read once: each entry below
 * the diagonal serves its row and, mirrored, its column (no copy of A into WebAssembly memory,
 * which would cost more than the product).
 */
function residual(a: Matrix, b: Matrix, x: Matrix, jitter: number): Matrix {
  const n = a.rows;
  const k = b.cols;
  const ad = a.data;
  const xd = x.data;
  const r = Float64Array.from(b.data);
  if (k === 1) {
    for (let i = 0; i < n; i++) {
      const row = i * n;
      const xi = xd[i];
      let sum = (ad[row + i] + jitter) * xi;
      for (let j = 0; j < i; j++) {
        const aij = ad[row + j];
        sum += aij * xd[j];
        r[j] -= aij * xi;
      }
      r[i] -= sum;
    }
    return { rows: n, cols: 1, data: r };
  }
  // Several columns: one pass over A, each entry applied to every column (rows of x are contiguous).
  const sums = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    const xi = i * k;
    const diagonal = ad[row + i] + jitter;
    for (let c = 0; c < k; c++) sums[c] = diagonal * xd[xi + c];
    for (let j = 0; j < i; j++) {
      const aij = ad[row + j];
      const xj = j * k;
      for (let c = 0; c < k; c++) {
        sums[c] += aij * xd[xj + c];
        r[xj + c] -= aij * xd[xi + c];
      }
    }
    for (let c = 0; c < k; c++) r[xi + c] -= sums[c];
  }
  return { rows: n, cols: k, data: r };
}

/**
 * dsposv's stopping test, per column c: ‖r_c‖∞ ≤ ‖x_c‖∞·tolerance. `size` is the largest ratio
 * ‖r_c‖∞ / ‖x_c‖∞ (what each refinement step must keep shrinking).
 */
function residualTest(r: Matrix, x: Matrix, tolerance: number): { converged: boolean; size: number } {
  const k = r.cols;
  let converged = true;
  let size = 0;
  for (let c = 0; c < k; c++) {
    let rn = 0;
    let xn = 0;
    for (let i = 0; i < r.rows; i++) {
      rn = Math.max(rn, Math.abs(r.data[i * k + c]));
      xn = Math.max(xn, Math.abs(x.data[i * k + c]));
    }
    if (rn > xn * tolerance) converged = false;
    size = Math.max(size, xn > 0 ? rn / xn : rn > 0 ? Infinity : 0);
  }
  return { converged, size };
}

/** ‖A + jitter·I‖∞ of the symmetric matrix whose lower triangle is A's (the largest absolute row sum). */
function symmetricInfinityNorm(a: Matrix, jitter: number): number {
  const n = a.rows;
  const ad = a.data;
  const sums = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    sums[i] += Math.abs(ad[i * n + i] + jitter);
    for (let j = 0; j < i; j++) {
      const v = Math.abs(ad[i * n + j]);
      sums[i] += v;
      sums[j] += v;
    }
  }
  let norm = 0;
  for (const s of sums) norm = Math.max(norm, s);
  return norm;
}
