import { NotConvergedError } from '../errors.js';
import type { Matrix } from './matrix.js';
import { axpy, dotProduct, maxAbsEntry, requireFiniteMatrix, transposeMatrix } from './matrix-ops.js';
import { applyReflectionsToRows, householder, reflectInPlace, reflectRows } from './reflections.js';
import { deferredRotationBatch, deferredRotationBatchOfTransposed } from './transposed-rotation-batch.js';
import { addressOf, SimdArena } from '../simd/simd-arena.js';

/** Columns from which the bidiagonalization runs in WebAssembly SIMD (below, setup outweighs the loops). */
const SIMD_MIN_COLUMNS = 32;

export interface SvdResult {
  /** m×r with orthonormal columns (r = min(m, n), or the requested rank for randomizedSvd). */
  u: Matrix;
  /** The r singular values, descending, all >= 0. */
  s: Float64Array;
  /**
   * r×n with orthonormal rows (the right singular vectors); each row is signed so its
   * largest-magnitude component (the first, on ties) is positive, and the matching column of u
   * carries the compensating sign.
   */
  vt: Matrix;
}

const EPSILON = Number.EPSILON;
/** Golub–Kahan steps allowed per singular value; a handful are typical. */
const MAX_STEPS_PER_VALUE = 75;

/**
 * Thin singular value decomposition A = U diag(s) Vᵀ: Householder bidiagonalization, then the
 * implicit-shift Golub–Kahan QR iteration on the bidiagonal matrix, with zero-diagonal chasing so
 * rank-deficient input still yields orthonormal U and V (Golub & Van Loan §8.6, Alg. 8.6.1–8.6.2).
 * A wide matrix is handled through its transpose.
 */
export function svd(a: Matrix): SvdResult {
  requireFiniteMatrix(a, 'svd');
  const { rows: m, cols: n } = a;
  if (m < n) {
    // Aᵀ = U' S V'ᵀ gives A = V' S U'ᵀ: the roles of the two factors swap.
    const swapped = tallSvd(transposeMatrix(a));
    return orientAndSort(swapped.right, swapped.values, swapped.left, m, n);
  }
  const factors = tallSvd(a);
  return orientAndSort(factors.left, factors.values, factors.right, m, n);
}

interface RawSvd {
  /** rows×r, row-major: the left singular vectors as columns. */
  left: Float64Array;
  /** r values, signed and unsorted. */
  values: Float64Array;
  /** cols×r, row-major: the right singular vectors as columns. */
  right: Float64Array;
}

/** The SVD of a matrix with rows >= cols, unsorted and unsigned. */
function tallSvd(a: Matrix): RawSvd {
  const { rows: m, cols: n } = a;
  if (n === 0) return { left: new Float64Array(0), values: new Float64Array(0), right: new Float64Array(0) };
  // Scale to max |entry| = 1 so no square in the reflections or shifts overflows or underflows.
  const scale = maxAbsEntry(a);
  const work = Float64Array.from(a.data);
  if (scale > 0) for (let i = 0; i < work.length; i++) work[i] /= scale;

  const diagonal = new Float64Array(n);
  const superDiagonal = new Float64Array(n);
  const { leftRows, rightRows } = bidiagonalize(work, m, n, diagonal, superDiagonal);
  // The reflections are accumulated as rows (contiguous dot products); the rotations run on columns,
  // which the batches take from those rows (see deferredRotationBatchOfTransposed).
  const { left, right } = bidiagonalQr(diagonal, superDiagonal, leftRows, m, rightRows, n);
  for (let i = 0; i < n; i++) diagonal[i] *= scale;
  return { left, values: diagonal, right };
}

/**
 * Golub–Kahan bidiagonalization of the m×n (m >= n) `work`: B = U_Bᵀ A V_B upper bidiagonal, by
 * alternating a left reflection that zeros column k below the diagonal and a right reflection that
 * zeros row k beyond the superdiagonal (Golub & Van Loan Alg. 5.4.2). The reflection vectors are
 * kept in the zeroed parts of `work`. Returns the first n rows of U_Bᵀ (n×m) and V_Bᵀ (n×n).
 */
function bidiagonalize(
  matrixWork: Float64Array,
  m: number,
  n: number,
  diagonal: Float64Array,
  superDiagonal: Float64Array,
): { leftRows: Float64Array; rightRows: Float64Array } {
  const leftTaus = new Float64Array(n);
  const rightTaus = new Float64Array(n);
  // From 32 columns on, the reduction runs in WebAssembly memory with its row loops in SIMD
  // kernels: the same operations in the same order, so the same float64 values.
  const simd = n >= SIMD_MIN_COLUMNS ? SimdArena.create([m * n, Math.max(m, n), n]) : null;
  const work = simd ? simd.arrays[0] : matrixWork;
  if (simd) work.set(matrixWork);
  const v = simd ? simd.arrays[1] : new Float64Array(Math.max(m, n)); // the current reflection vector, contiguous
  const w = simd ? simd.arrays[2] : new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // Left reflection on column k, rows k..m-1 (v stored in place, strided by n).
    const height = m - k;
    const width = n - k - 1;
    let sumSquares = 0;
    for (let i = k + 1; i < m; i++) sumSquares += work[i * n + k] * work[i * n + k];
    const x0 = work[k * n + k];
    if (sumSquares === 0) {
      diagonal[k] = x0;
    } else {
      const { alpha, tau } = householder(x0, sumSquares);
      work[k * n + k] = x0 - alpha;
      diagonal[k] = alpha;
      leftTaus[k] = tau;
      // Columns k+1..n-1: A ← A − τ v (vᵀA), with vᵀA gathered row by row.
      for (let t = 0; t < height; t++) v[t] = work[(k + t) * n + k];
      reflectRows(simd?.kernels ?? null, work, k * n + k + 1, n, height, width, v, w, tau);
    }
    // Right reflection on row k, columns k+1..n-1 (v stored in place, contiguous).
    if (width === 0) continue;
    const start = k * n + k + 1;
    const { alpha, tau } = reflectInPlace(work, start, width);
    superDiagonal[k] = alpha;
    rightTaus[k] = tau;
    if (tau === 0) continue;
    // Rows k+1..m-1: A ← A − τ (A v) vᵀ.
    if (simd) simd.kernels.rowsReflect(addressOf(work, (k + 1) * n + k + 1), n, m - k - 1, width, addressOf(work, start), -tau);
    else {
      for (let i = k + 1; i < m; i++) {
        const row = i * n + k + 1;
        const dot = dotProduct(work, row, work, start, width);
        if (dot !== 0) axpy(-tau * dot, work, start, work, row, width);
      }
    }
  }

  // U_Bᵀ restricted to its first n rows: [I_n 0]·H_{n-1}⋯H_0, applied from the right; when H_k is
  // applied only rows k.. are non-zero in its columns k..m-1. Its vectors (columns of `work`) are
  // packed contiguously first.
  const leftRows = new Float64Array(n * m);
  for (let i = 0; i < n; i++) leftRows[i * m + i] = 1;
  const packed = new Float64Array(n * m);
  const leftOffsets = new Int32Array(n);
  const leftStarts = new Int32Array(n);
  const leftOrder = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const k = n - 1 - j;
    leftOffsets[j] = k * m;
    leftStarts[j] = k;
    leftOrder[j] = leftTaus[k];
    for (let i = k; i < m; i++) packed[k * m + i - k] = work[i * n + k];
  }
  applyReflectionsToRows(leftRows, n, m, n, packed, leftOffsets, leftStarts, leftOrder);

  // V_Bᵀ = G_{n-2}⋯G_0 the same way (G_k acts on indices k+1..n-1; its vector is in row k of `work`).
  const rightRows = new Float64Array(n * n);
  for (let i = 0; i < n; i++) rightRows[i * n + i] = 1;
  const rightCount = Math.max(n - 1, 0);
  const rightOffsets = new Int32Array(rightCount);
  const rightStarts = new Int32Array(rightCount);
  const rightOrder = new Float64Array(rightCount);
  for (let j = 0; j < rightCount; j++) {
    const k = rightCount - 1 - j;
    rightOffsets[j] = k * n + k + 1;
    rightStarts[j] = k + 1;
    rightOrder[j] = rightTaus[k];
  }
  applyReflectionsToRows(rightRows, n, n, rightCount, work, rightOffsets, rightStarts, rightOrder);
  return { leftRows, rightRows };
}

/**
 * Diagonalizes the upper bidiagonal (d, e) in place (e[k] couples k and k+1) with implicit-shift
 * Golub–Kahan steps (Golub & Van Loan Alg. 8.6.1, Wilkinson shift from the trailing 2×2 of BᵀB).
 * U (m×n) and V (n×n) start as the bidiagonalization's, given as rows (`leftRows` n×m = U_Bᵀ,
 * `rightRows` n×n = V_Bᵀ) and returned as columns (`left`, `right`, row-major); a rotation of rows
 * of B is applied to the same columns of U and a rotation of columns of B to the same columns of V,
 * which keeps A = U B Vᵀ throughout.
 */
function bidiagonalQr(d: Float64Array, e: Float64Array, leftRows: Float64Array, m: number, rightRows: Float64Array, n: number): { left: Float64Array; right: Float64Array } {
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]) + (i + 1 < n ? Math.abs(e[i]) : 0));
  const zeroTolerance = EPSILON * norm;
  const maxSteps = MAX_STEPS_PER_VALUE * n;
  const rotations: StepRotations = {
    rightCos: new Float64Array(n),
    rightSin: new Float64Array(n),
    leftCos: new Float64Array(n),
    leftSin: new Float64Array(n),
  };
  // The batches keep their own copies (in SIMD) until finished: a zero-chasing step, which works on
  // U or V directly, finishes the batch first and starts a new one after.
  let leftBatch = deferredRotationBatchOfTransposed(leftRows, m, n);
  let rightBatch = deferredRotationBatchOfTransposed(rightRows, n, n);
  let steps = 0;
  let q = n - 1;
  while (q > 0) {
    // Negligible entries become exact zeros (a perturbation within eps·‖B‖, or relative to the
    // neighbouring diagonal for the superdiagonal, which keeps small singular values accurate).
    for (let i = 0; i <= q; i++) if (Math.abs(d[i]) <= zeroTolerance) d[i] = 0;
    for (let i = 0; i < q; i++) if (Math.abs(e[i]) <= EPSILON * (Math.abs(d[i]) + Math.abs(d[i + 1]))) e[i] = 0;
    if (e[q - 1] === 0) {
      q--;
      continue;
    }
    let p = q - 1;
    while (p > 0 && e[p - 1] !== 0) p--;
    // The block p..q is unreduced. A zero on its diagonal must be chased out first: the shifted
    // step would not make progress there.
    let zeroAt = -1;
    for (let i = p; i < q; i++) {
      if (d[i] === 0) {
        zeroAt = i;
        break;
      }
    }
    if (zeroAt >= 0) {
      const left = leftBatch.finish();
      chaseZeroDiagonalRow(d, e, zeroAt, q, left, m, n);
      leftBatch = deferredRotationBatch(left, m, n);
      continue;
    }
    if (d[q] === 0) {
      const right = rightBatch.finish();
      chaseZeroDiagonalColumn(d, e, p, q, right, n);
      rightBatch = deferredRotationBatch(right, n, n);
      continue;
    }
    if (++steps > maxSteps) {
      throw new NotConvergedError(`svd: the Golub–Kahan iteration did not converge after ${maxSteps} steps`, { steps: maxSteps });
    }
    golubKahanStep(d, e, p, q, rotations);
    // The step's rotations depend only on B: record them and update U and V in batches.
    rightBatch.add(p, q, true, rotations.rightCos, rotations.rightSin);
    leftBatch.add(p, q, true, rotations.leftCos, rotations.leftSin);
  }
  return { left: leftBatch.finish(), right: rightBatch.finish() };
}

/** The rotations of one Golub–Kahan step, by the index k of the pair (k, k+1) they combine. */
interface StepRotations {
  rightCos: Float64Array;
  rightSin: Float64Array;
  leftCos: Float64Array;
  leftSin: Float64Array;
}

/**
 * One implicit-shift QR step on the unreduced block p..q: chase the bulge from p down to q,
 * recording each rotation (it maps the pair (x, y) to (c·x + s·y, c·y − s·x)) for the vectors.
 */
function golubKahanStep(d: Float64Array, e: Float64Array, p: number, q: number, rotations: StepRotations): void {
  const { rightCos, rightSin, leftCos, leftSin } = rotations;
  // Wilkinson shift: the eigenvalue of the trailing 2×2 of BᵀB closer to its last diagonal entry.
  const dm = d[q - 1];
  const dn = d[q];
  const em = e[q - 1];
  const ep = q - 1 > p ? e[q - 2] : 0;
  const t11 = dm * dm + ep * ep;
  const t12 = dm * em;
  const t22 = dn * dn + em * em;
  const delta = 0.5 * (t11 - t22);
  const root = Math.hypot(delta, t12);
  const denominator = delta + (delta >= 0 ? root : -root);
  const shift = denominator === 0 ? t22 : t22 - (t12 * t12) / denominator;

  let y = d[p] * d[p] - shift;
  let z = d[p] * e[p];
  for (let k = p; k < q; k++) {
    // Rotate columns k, k+1 to zero z against y (in row k-1, or the shifted first column at k = p).
    let r = Math.hypot(y, z);
    let c = r === 0 ? 1 : y / r;
    let s = r === 0 ? 0 : z / r;
    rightCos[k] = c;
    rightSin[k] = s;
    if (k > p) e[k - 1] = r;
    const dk = d[k];
    const ek = e[k];
    const dk1 = d[k + 1];
    d[k] = c * dk + s * ek;
    e[k] = c * ek - s * dk;
    const bulgeBelow = s * dk1;
    d[k + 1] = c * dk1;

    // Rotate rows k, k+1 to zero the bulge at (k+1, k).
    y = d[k];
    z = bulgeBelow;
    r = Math.hypot(y, z);
    c = r === 0 ? 1 : y / r;
    s = r === 0 ? 0 : z / r;
    leftCos[k] = c;
    leftSin[k] = s;
    d[k] = r;
    const ek2 = e[k];
    const dk2 = d[k + 1];
    e[k] = c * ek2 + s * dk2;
    d[k + 1] = c * dk2 - s * ek2;
    if (k + 1 < q) {
      y = e[k];
      z = s * e[k + 1];
      e[k + 1] *= c;
    }
  }
}

/**
 * d[i] = 0 inside the block ending at q: rotating row i against rows i+1..q moves the coupling
 * e[i] rightwards until it falls off the block, splitting it at i.
 */
function chaseZeroDiagonalRow(d: Float64Array, e: Float64Array, i: number, q: number, left: Float64Array, m: number, n: number): void {
  let f = e[i];
  e[i] = 0;
  for (let j = i + 1; j <= q && f !== 0; j++) {
    const r = Math.hypot(d[j], f);
    const c = d[j] / r;
    const s = f / r;
    d[j] = r;
    // new row j = c·row j + s·row i; new row i = c·row i − s·row j.
    rotateColumns(left, m, n, j, i, c, s);
    if (j < q) {
      f = -s * e[j];
      e[j] *= c;
    }
  }
}

/**
 * d[q] = 0 at the end of the block p..q: rotating column q against columns q-1..p moves the
 * coupling e[q-1] upwards until it falls off the block, splitting off the zero singular value.
 */
function chaseZeroDiagonalColumn(d: Float64Array, e: Float64Array, p: number, q: number, right: Float64Array, n: number): void {
  let f = e[q - 1];
  e[q - 1] = 0;
  for (let j = q - 1; j >= p && f !== 0; j--) {
    const r = Math.hypot(d[j], f);
    const c = d[j] / r;
    const s = f / r;
    d[j] = r;
    // new column j = c·col j + s·col q; new column q = c·col q − s·col j.
    rotateColumns(right, n, n, j, q, c, s);
    if (j > p) {
      f = -s * e[j - 1];
      e[j - 1] *= c;
    }
  }
}

/** Columns (x, y) of a rows×cols array ← (c·x + s·y, c·y − s·x). */
function rotateColumns(data: Float64Array, rows: number, cols: number, colX: number, colY: number, c: number, s: number): void {
  for (let row = 0; row < rows; row++) {
    const x = data[row * cols + colX];
    const y = data[row * cols + colY];
    data[row * cols + colX] = c * x + s * y;
    data[row * cols + colY] = c * y - s * x;
  }
}

/**
 * Makes the values non-negative, sorts them descending and signs each right vector so its
 * largest component is positive (flipping the left vector with it), then lays out U (m×r) and
 * Vᵀ (r×n). `left` is m×r and `right` n×r, vectors as columns.
 */
function orientAndSort(left: Float64Array, values: Float64Array, right: Float64Array, m: number, n: number): SvdResult {
  const r = values.length;
  const orderIndex = Array.from({ length: r }, (_, i) => i);
  const magnitude = (i: number): number => Math.abs(values[i]);
  orderIndex.sort((i, j) => magnitude(j) - magnitude(i) || i - j);
  const s = new Float64Array(r);
  const u = new Float64Array(m * r);
  const vt = new Float64Array(r * n);
  for (let out = 0; out < r; out++) {
    const source = orderIndex[out];
    s[out] = magnitude(source);
    let best = 0;
    let bestIndex = 0;
    for (let k = 0; k < n; k++) {
      const v = Math.abs(right[k * r + source]);
      if (v > best) {
        best = v;
        bestIndex = k;
      }
    }
    const rightSign = right[bestIndex * r + source] < 0 ? -1 : 1;
    const leftSign = values[source] < 0 ? -rightSign : rightSign;
    for (let k = 0; k < n; k++) vt[out * n + k] = rightSign * right[k * r + source];
    for (let k = 0; k < m; k++) u[k * r + out] = leftSign * left[k * r + source];
  }
  return { u: { rows: m, cols: r, data: u }, s, vt: { rows: r, cols: n, data: vt } };
}
