import { InvalidConfigError } from '../errors.js';
import type { Matrix } from './matrix.js';
import { maxAbsEntry, requireFiniteMatrix, requireSquareMatrix, transposeInto } from './matrix-ops.js';
import { applyReflectionsToRows } from './reflections.js';
import { deferredRotationBatchOfTransposed } from './transposed-rotation-batch.js';
import { tridiagonalDivideConquer } from './tridiagonal-divide-conquer.js';
import { tridiagonalQl } from './tridiagonal-ql.js';
import { tridiagonalize } from './tridiagonalize.js';

export interface EighOptions {
  /** Order of the eigenvalues (and their vectors); default 'descending'. */
  order?: 'ascending' | 'descending';
  /**
   * Largest accepted asymmetry max|aᵢⱼ − aⱼᵢ| relative to max|aᵢⱼ|; default 1e-8. Within it the
   * matrix is symmetrized as (A + Aᵀ)/2.
   */
  tolerance?: number;
  /**
   * `eigh` only: the first `count` eigenpairs in `order` (the largest for 'descending'), as scipy's
   * `subset_by_index`; default all n. From order 64 on, only these vectors take the
   * tridiagonalization's reflections (2n²·count multiply-adds instead of 2n³): the top 10 of a
   * 2000 × 2000 RBF Gram matrix take 1.5–1.7 s instead of 2.2–2.3 s (the tridiagonalization stays).
   */
  count?: number;
}

export interface EighResult {
  /** The eigenvalues, in the requested order (`count` of them). */
  values: Float64Array;
  /**
   * n × count orthonormal eigenvectors as COLUMNS (column j belongs to values[j]); each is signed so
   * its largest-magnitude component (the first, on ties) is positive.
   */
  vectors: Matrix;
}

/** Rows and columns per tile of the symmetrized copy. */
const SYMMETRIZE_TILE = 64;
/** Rows of the output per tile of eigh's final transpose. */
const OUTPUT_TILE = 32;
/** Order from which the tridiagonal's eigenvectors come from divide and conquer instead of QL. */
const DIVIDE_AND_CONQUER_MIN_ORDER = 64;

/**
 * Eigendecomposition of a symmetric matrix, A = V diag(λ) Vᵀ, as LAPACK's syevd: Householder
 * tridiagonalization (in panels from order 448, `tridiagonalize.ts`), then the tridiagonal's
 * eigenpairs by divide and conquer from order 64 (`tridiagonal-divide-conquer.ts`), whose vectors
 * take the reflections in compact WY blocks; below order 64, implicit QL with Wilkinson shifts
 * (Golub & Van Loan §8.3, `tridiagonal-ql.ts`) with its rotations applied to Q in batches. O(n³).
 */
export function eigh(a: Matrix, options: EighOptions = {}): EighResult {
  const { n, order, scale, work } = prepare(a, options, 'eigh');
  const count = options.count ?? n;
  if (!Number.isInteger(count) || count < 0 || count > n) {
    throw new InvalidConfigError(`eigh: count must be an integer in [0, ${n}], got ${count}`, { count, order: n });
  }
  if (n === 0 || count === 0) return { values: new Float64Array(0), vectors: { rows: n, cols: 0, data: new Float64Array(0) } };

  const { diagonal, taus, rows: tridiagonalRows } = tridiagonalEigenpairs(work, n);
  const orderIndex = sortedOrder(diagonal, order).slice(0, count);
  // The wanted vectors as rows (all of them in place, or a subset gathered, row j for vector j),
  // which then take the reflections.
  const subset = count < n;
  const rows = subset ? new Float64Array(count * n) : tridiagonalRows;
  if (subset) orderIndex.forEach((source, j) => rows.set(tridiagonalRows.subarray(source * n, (source + 1) * n), j * n));
  backTransformRows(rows, rows.length / n, work, taus, n);
  const rowStart = (col: number) => (subset ? col : orderIndex[col]) * n;

  const values = Float64Array.from(orderIndex, (source) => diagonal[source] * scale);
  const signs = Float64Array.from(orderIndex, (_, col) => largestComponentSign(rows, rowStart(col), n));
  // Vector j (its row, signed) into column j, in tiles of rows so the writes stay in cache.
  const vectors = new Float64Array(n * count);
  for (let k0 = 0; k0 < n; k0 += OUTPUT_TILE) {
    const k1 = Math.min(k0 + OUTPUT_TILE, n);
    for (let col = 0; col < count; col++) {
      const source = rowStart(col);
      const sign = signs[col];
      for (let k = k0; k < k1; k++) vectors[k * count + col] = sign * rows[source + k];
    }
  }
  return { values, vectors: { rows: n, cols: count, data: vectors } };
}

/**
 * All eigenpairs of the symmetric `a` in the tridiagonal solver's order, neither sorted nor signed:
 * the eigenvalues, and the eigenvectors as the rows of an n×n row-major matrix (row j for
 * values[j]). For callers that combine the pairs (`symmetricMatrixFunction`).
 * @internal
 */
export function eigenpairRows(a: Matrix, options: EighOptions, where: string): { values: Float64Array; rows: Float64Array } {
  const { n, scale, work } = prepare(a, options, where);
  if (n === 0) return { values: new Float64Array(0), rows: new Float64Array(0) };
  const { diagonal, taus, rows } = tridiagonalEigenpairs(work, n);
  backTransformRows(rows, n, work, taus, n);
  return { values: diagonal.map((value) => value * scale), rows };
}

/**
 * The tridiagonalization of `work` (its reflections left there, their τ in `taus`) and the
 * tridiagonal's eigenpairs: the eigenvalues in `diagonal`, the eigenvectors as the rows of `rows`
 * (`tridiagonalVectorRows`: to take `backTransformRows`, or below its order A's already).
 */
function tridiagonalEigenpairs(work: Float64Array, n: number): { diagonal: Float64Array; taus: Float64Array; rows: Float64Array } {
  const diagonal = new Float64Array(n);
  const offDiagonal = new Float64Array(n);
  const taus = tridiagonalize(work, n, diagonal, offDiagonal);
  return { diagonal, taus, rows: tridiagonalVectorRows(work, taus, diagonal, offDiagonal, n) };
}

/**
 * The tridiagonal's eigenvectors (rowCount of them, as rows) into A's, rows ← rows·Qᵀ; below the
 * divide-and-conquer order they are A's already.
 */
function backTransformRows(rows: Float64Array, rowCount: number, work: Float64Array, taus: Float64Array, n: number): void {
  if (n >= DIVIDE_AND_CONQUER_MIN_ORDER) multiplyByQt(rows, rowCount, work, taus, n, false);
}

/**
 * Eigenvectors as the rows of an n×n row-major matrix, with the tridiagonal's eigenvalues left in
 * `diagonal`. From order DIVIDE_AND_CONQUER_MIN_ORDER on, the tridiagonal's own (Zᵀ, by divide and
 * conquer), which then take the reflections (Vᵀ = ZᵀQᵀ; Q is never formed); below it A's, by QL's
 * rotations applied to Q, accumulated from the reflections.
 */
function tridiagonalVectorRows(work: Float64Array, taus: Float64Array, diagonal: Float64Array, offDiagonal: Float64Array, n: number): Float64Array {
  const rows = new Float64Array(n * n);
  if (n >= DIVIDE_AND_CONQUER_MIN_ORDER) {
    transposeInto(tridiagonalDivideConquer(diagonal, offDiagonal, n), n, n, n, rows, n);
    return rows;
  }
  // The rotations start from Q, which the accumulation gives as Qᵀ (rows): the batch takes it so.
  const batch = deferredRotationBatchOfTransposed(accumulateQt(work, taus, n), n, n);
  tridiagonalQl(diagonal, offDiagonal, batch, n);
  transposeInto(batch.finish(), n, n, n, rows, n);
  return rows;
}

/**
 * The eigenvalues of a symmetric matrix alone, in the requested order: `eigh`'s tridiagonalization
 * and QL sweeps without forming or rotating the eigenvectors, about a third of its work. Same
 * values as `eigh(a).values` (the same arithmetic on the tridiagonal matrix).
 */
export function eigvalsh(a: Matrix, options: EighOptions = {}): Float64Array {
  const { n, order, scale, work } = prepare(a, options, 'eigvalsh');
  const diagonal = new Float64Array(n);
  const offDiagonal = new Float64Array(n);
  if (n === 0) return diagonal;
  tridiagonalize(work, n, diagonal, offDiagonal);
  tridiagonalQl(diagonal, offDiagonal, null, n);
  return Float64Array.from(sortedOrder(diagonal, order), (source) => diagonal[source] * scale);
}

/** Validation and the scaled, symmetrized working copy shared by `eigh` and `eigvalsh`. */
function prepare(a: Matrix, options: EighOptions, where: string): { n: number; order: 'ascending' | 'descending'; scale: number; work: Float64Array } {
  requireSquareMatrix(a, where);
  requireFiniteMatrix(a, where);
  const tolerance = options.tolerance ?? 1e-8;
  if (!(tolerance >= 0)) throw new InvalidConfigError(`${where}: tolerance must be a number >= 0, got ${tolerance}`);
  const order = options.order ?? 'descending';
  if (order !== 'ascending' && order !== 'descending') {
    throw new InvalidConfigError(`${where}: order must be 'ascending' or 'descending', got ${String(order)}`);
  }
  // Scale to max |entry| = 1 so no square in the reflections or shifts overflows or underflows.
  const scale = maxAbsEntry(a);
  return { n: a.rows, order, scale, work: symmetrizedCopy(a, scale, tolerance, where) };
}

/** Indices of the eigenvalues in the requested order (ties by index). */
function sortedOrder(diagonal: Float64Array, order: 'ascending' | 'descending'): number[] {
  const orderIndex = Array.from({ length: diagonal.length }, (_, i) => i);
  orderIndex.sort((i, j) => (order === 'descending' ? diagonal[j] - diagonal[i] : diagonal[i] - diagonal[j]) || i - j);
  return orderIndex;
}

/** (A + Aᵀ)/(2·scale) after checking that A is symmetric within `tolerance`. */
function symmetrizedCopy(a: Matrix, scale: number, tolerance: number, where: string): Float64Array {
  const n = a.rows;
  const src = a.data;
  const out = new Float64Array(n * n);
  const inverse = scale > 0 ? 1 / scale : 1;
  let worst = 0;
  let worstRow = 0;
  let worstCol = 0;
  // Tiles of the upper triangle, so the lower triangle's columns are read while in cache; the
  // worst asymmetry is the first in row-major order on ties, as an untiled scan would report it.
  for (let i0 = 0; i0 < n; i0 += SYMMETRIZE_TILE) {
    const i1 = Math.min(i0 + SYMMETRIZE_TILE, n);
    for (let j0 = i0; j0 < n; j0 += SYMMETRIZE_TILE) {
      const j1 = Math.min(j0 + SYMMETRIZE_TILE, n);
      for (let i = i0; i < i1; i++) {
        if (j0 === i0) out[i * n + i] = src[i * n + i] * inverse;
        for (let j = Math.max(j0, i + 1); j < j1; j++) {
          const upper = src[i * n + j];
          const lower = src[j * n + i];
          const gap = Math.abs(upper - lower);
          if (gap > worst || (gap === worst && gap > 0 && (i < worstRow || (i === worstRow && j < worstCol)))) {
            worst = gap;
            worstRow = i;
            worstCol = j;
          }
          const mean = 0.5 * (upper + lower) * inverse;
          out[i * n + j] = mean;
          out[j * n + i] = mean;
        }
      }
    }
  }
  if (worst > tolerance * scale) {
    throw new InvalidConfigError(
      `${where}: the matrix is not symmetric: |a[${worstRow}][${worstCol}] − a[${worstCol}][${worstRow}]| = ${worst} ` +
        `(${src[worstRow * n + worstCol]} vs ${src[worstCol * n + worstRow]}) exceeds tolerance ${tolerance} × max|a| = ${tolerance * scale}`,
      { row: worstRow, col: worstCol, asymmetry: worst, tolerance },
    );
  }
  return out;
}

/**
 * Qᵀ (n×n, row-major) of the tridiagonalization from its reflections (v_k in row k of `work`, τ_k
 * in `taus`): its rows are the starting eigenvector estimates that the QL rotations then refine.
 */
function accumulateQt(work: Float64Array, taus: Float64Array, n: number): Float64Array {
  const qt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) qt[i * n + i] = 1;
  multiplyByQt(qt, n, work, taus, n, true);
  return qt;
}

/**
 * rows ← rows·Qᵀ for the rowCount × n row-major `rows`, Qᵀ = H_{n-3}⋯H_0 from the tridiagonalization's
 * reflections (v_k in row k of `work`): from the identity (`fromIdentity`), Qᵀ itself, where H_k
 * touches columns k+1.. and, at that point, only rows k+1.. are non-trivial there; from Zᵀ (the
 * tridiagonal's eigenvectors as rows), A's eigenvectors as rows.
 */
function multiplyByQt(rows: Float64Array, rowCount: number, work: Float64Array, taus: Float64Array, n: number, fromIdentity: boolean): void {
  const count = Math.max(n - 2, 0);
  const offsets = new Int32Array(count);
  const starts = new Int32Array(count);
  const order = new Float64Array(count);
  for (let j = 0; j < count; j++) {
    const k = count - 1 - j;
    offsets[j] = k * n + k + 1;
    starts[j] = k + 1;
    order[j] = taus[k];
  }
  applyReflectionsToRows(rows, rowCount, n, count, work, offsets, starts, order, fromIdentity);
}

/** +1 or −1: the sign of the largest-magnitude entry (the first one on exact ties) of data[start..start+length). */
function largestComponentSign(data: Float64Array, start: number, length: number): number {
  let best = 0;
  let bestIndex = start;
  for (let k = start; k < start + length; k++) {
    const v = Math.abs(data[k]);
    if (v > best) {
      best = v;
      bestIndex = k;
    }
  }
  return data[bestIndex] < 0 ? -1 : 1;
}
