import { addressOf, type DenseSimdKernels, SimdArena } from '../simd/simd-arena.js';
import { runRowBlocks } from '../simd/row-blocks.js';
import { axpy, dotProduct } from './matrix-ops.js';
import { reflectInPlace } from './reflections.js';

/** Order from which the reduction runs in WebAssembly SIMD (below it, setup outweighs the loops). */
const SIMD_MIN_ORDER = 32;
/** Reflections per panel: the trailing matrix takes their rank-2·PANEL update at once. */
const PANEL = 32;
/**
 * Below this order each reflection updates the matrix at once (panels of one): measured on a
 * 2-core VM, panels of 32 were level at order 400 and 1.3× faster from 500 on, where the matrix
 * (2 MB) no longer stays in cache between steps; below, their corrections cost what they save.
 */
const PANEL_MIN_ORDER = 448;
/** Columns of the deferred update's right factor per pass (2·PANEL × this, 128 KiB, stays in L2). */
const COLUMN_PANEL = 256;
/** Multiply-adds from which an update's row blocks split among the worker threads (a hand-off costs ≈ 40 µs). */
const THREADED_MIN_WORK = 2 ** 21;

/**
 * Reduces the symmetric `matrixWork` (n×n, row-major; only its upper triangle is read) to
 * tridiagonal T = Qᵀ A Q with Householder reflections H_k = I − τ v vᵀ that zero row k beyond the
 * superdiagonal (Golub & Van Loan Alg. 8.3.1). Fills the diagonal and the superdiagonal
 * (offDiagonal[k] couples k and k+1) and returns the τ_k; the v_k stay in row k of `matrixWork`.
 *
 * Blocked as LAPACK's sytrd/latrd: within a panel of PANEL reflections the trailing matrix is not
 * updated; each step's product S·v reads it as the panel found it and subtracts the panel's
 * earlier rank-2 terms V(Wᵀv) + W(Vᵀv), and only the row being reduced is brought up to date.
 * After the panel, the upper triangle takes S ← S − V Wᵀ − W Vᵀ in one product. So each step
 * streams the trailing matrix once (the product S·v) instead of three times (the product, then
 * reading and writing a rank-2 update), and the updates run in the matrix-product kernel.
 */
export function tridiagonalize(matrixWork: Float64Array, n: number, diagonal: Float64Array, offDiagonal: Float64Array): Float64Array {
  const taus = new Float64Array(n);
  const steps = Math.max(n - 2, 0);
  const panel = n >= PANEL_MIN_ORDER ? PANEL : 1;
  const inner = 2 * Math.min(panel, steps);
  // The deferred update's left factor has padding rows (a last block of four reads past its end);
  // so has the matrix (that block's extra rows are written past the last row, into the padding).
  const lengths = [n * n + 4 * n, n, n, panel * n, panel * n, panel, (n + 4) * inner, inner * COLUMN_PANEL];
  // From order 32 on everything runs in WebAssembly memory, its loops in the SIMD kernels: the same
  // float64 values as the loops used without them.
  // In panels, the deferred updates split their row blocks among the worker threads (the same
  // values: each entry is still summed by one thread).
  const arena = n >= SIMD_MIN_ORDER ? SimdArena.create(lengths, undefined, { threads: panel > 1 }) : null;
  const [padded, v, w, panelV, panelW, coefficients, left, right] = arena ? arena.arrays : lengths.map((length) => new Float64Array(length));
  const work = padded.subarray(0, n * n);
  work.set(matrixWork);
  const kernels = arena?.kernels ?? null;
  const split = arena?.threads ? arena : null;
  for (let panelStart = 0; panelStart < steps; panelStart += panel) {
    const panelEnd = Math.min(panelStart + panel, steps);
    // Row j of panelV / panelW: the panel's j-th v and w over the global indices (zero before its first).
    panelV.fill(0);
    panelW.fill(0);
    for (let k = panelStart; k < panelEnd; k++) {
      const j = k - panelStart;
      const first = k + 1;
      const start = k * n + first; // v is stored in row k, columns k+1..n-1
      const length = n - first;
      // Row k as the panel's earlier reflections leave it: a − Σ V_t[k]·W_t − Σ W_t[k]·V_t.
      for (let t = 0; t < j; t++) coefficients[t] = -panelV[t * n + k];
      rowsAxpy(kernels, panelW, k, n, j, n - k, coefficients, work, k * n + k);
      for (let t = 0; t < j; t++) coefficients[t] = -panelW[t * n + k];
      rowsAxpy(kernels, panelV, k, n, j, n - k, coefficients, work, k * n + k);
      diagonal[k] = work[k * n + k];
      const { alpha, tau } = reflectInPlace(work, start, length);
      offDiagonal[k] = alpha;
      taus[k] = tau;
      if (tau === 0) continue; // row k is already tridiagonal (its panel rows stay zero)
      v.set(work.subarray(start, start + length));

      // p = τ (S v − V(Wᵀv) − W(Vᵀv)): S as the panel found it, corrected by the panel's earlier terms.
      w.fill(0, 0, length);
      const trailing = first * n + first;
      if (kernels) kernels.symmetricUpperMatvec(addressOf(work, trailing), n, length, addressOf(v), addressOf(w));
      else symmetricUpperProduct(work, trailing, n, length, v, w);
      negatedRowDots(kernels, panelW, first, n, j, length, v, coefficients);
      rowsAxpy(kernels, panelV, first, n, j, length, coefficients, w, 0);
      negatedRowDots(kernels, panelV, first, n, j, length, v, coefficients);
      rowsAxpy(kernels, panelW, first, n, j, length, coefficients, w, 0);
      let pv = 0;
      for (let t = 0; t < length; t++) {
        w[t] *= tau;
        pv += w[t] * v[t];
      }
      axpy(-0.5 * tau * pv, v, 0, w, 0, length);
      panelV.set(v.subarray(0, length), j * n + first);
      panelW.set(w.subarray(0, length), j * n + first);
    }
    updateTrailing(kernels, split, work, n, panelEnd, panelEnd - panelStart, panelV, panelW, left, right);
  }
  if (n >= 2) {
    diagonal[n - 2] = work[(n - 2) * n + n - 2];
    offDiagonal[n - 2] = work[(n - 2) * n + n - 1];
  }
  diagonal[n - 1] = work[(n - 1) * n + n - 1];
  offDiagonal[n - 1] = 0;
  matrixWork.set(work); // the reflection vectors, for the accumulation of Q
  arena?.dispose(); // nothing reads its arrays from here on
  return taus;
}

/**
 * target[at + c] += Σ_t coefficients[t]·rows[t·ld + from + c] for c < width, over rows t < height
 * with a non-zero coefficient, row after row: the SIMD kernel `rowsAxpyInto` or the same loop.
 */
function rowsAxpy(
  kernels: DenseSimdKernels | null,
  rows: Float64Array,
  from: number,
  ld: number,
  height: number,
  width: number,
  coefficients: Float64Array,
  target: Float64Array,
  at: number,
): void {
  if (height === 0) return;
  if (kernels) {
    kernels.rowsAxpyInto(addressOf(rows, from), ld, height, width, addressOf(coefficients), addressOf(target, at));
    return;
  }
  for (let t = 0; t < height; t++) if (coefficients[t] !== 0) axpy(coefficients[t], rows, t * ld + from, target, at, width);
}

/**
 * out[t] = −(rows[t·ld + from ..] · x) over `width` entries for rows t < height: the panel's Wᵀv and
 * Vᵀv, negated as the coefficients of their corrections. The SIMD kernel `rowsDots` or dotProduct.
 */
function negatedRowDots(
  kernels: DenseSimdKernels | null,
  rows: Float64Array,
  from: number,
  ld: number,
  height: number,
  width: number,
  x: Float64Array,
  out: Float64Array,
): void {
  if (height === 0) return;
  if (kernels) {
    kernels.rowsDots(addressOf(rows, from), ld, height, width, addressOf(x), -1, addressOf(out));
    return;
  }
  for (let t = 0; t < height; t++) out[t] = -dotProduct(rows, t * ld + from, x, 0, width);
}

/** A four-row block's partial sums in symmetricUpperProduct (kept: it runs once per column). */
const BLOCK_SUMS = { own: new Float64Array(4), even: new Float64Array(4), odd: new Float64Array(4) };

/**
 * w += S·v for the symmetric S (length × length at `trailing`, row stride n) read through its upper
 * triangle (w starts at zero): row t gives its own entry of S·v and, by symmetry, the entries below.
 * Rows go four at a time, as the SIMD kernel `symmetricUpperMatvec` does (its comment gives the
 * order of the sums), then one at a time; the same sums in the same order, so the same values.
 * @internal exported for the kernel's test
 */
export function symmetricUpperProduct(work: Float64Array, trailing: number, n: number, length: number, v: Float64Array, w: Float64Array): void {
  const { own, even, odd } = BLOCK_SUMS;
  let t = 0;
  for (; t + 4 <= length; t += 4) {
    const row = trailing + t * n;
    // The block's own 4×4 upper triangle, row after row.
    for (let r = 0; r < 4; r++) {
      own[r] = work[row + r * n + t + r] * v[t + r];
      for (let j = t + r + 1; j < t + 4; j++) own[r] = upperEntry(work, row + r * n, j, v, w, v[t + r], own[r]);
    }
    even.fill(0);
    odd.fill(0);
    let j = t + 4;
    for (; j + 1 < length; j += 2) {
      // Each row's dot in two lanes (even and odd offsets); w[c] takes the four rows' terms in pairs.
      for (let lane = 0; lane < 2; lane++) {
        const c = j + lane;
        const s = (r: number) => work[row + r * n + c];
        w[c] += s(0) * v[t] + s(1) * v[t + 1] + (s(2) * v[t + 2] + s(3) * v[t + 3]);
        for (let r = 0; r < 4; r++) (lane === 0 ? even : odd)[r] += s(r) * v[c];
      }
    }
    if (j < length) for (let r = 0; r < 4; r++) own[r] = upperEntry(work, row + r * n, j, v, w, v[t + r], own[r]);
    for (let r = 0; r < 4; r++) w[t + r] += own[r] + (even[r] + odd[r]);
  }
  for (; t < length; t++) {
    const row = trailing + t * n;
    const vt = v[t];
    let dot = work[row + t] * vt;
    let even0 = 0;
    let odd0 = 0;
    let j = t + 1;
    for (; j + 1 < length; j += 2) {
      even0 += work[row + j] * v[j];
      odd0 += work[row + j + 1] * v[j + 1];
      w[j] += work[row + j] * vt;
      w[j + 1] += work[row + j + 1] * vt;
    }
    if (j < length) dot = upperEntry(work, row, j, v, w, vt, dot);
    w[t] += dot + (even0 + odd0);
  }
}

/** One entry s = work[row + j] of the upper triangle: w[j] += s·vt; returns own + s·v[j]. */
function upperEntry(work: Float64Array, row: number, j: number, v: Float64Array, w: Float64Array, vt: number, own: number): number {
  const s = work[row + j];
  w[j] += s * vt;
  return own + s * v[j];
}

/**
 * The panel's deferred update of the trailing block from row and column `from` on, in place:
 * S ← S − V Wᵀ − W Vᵀ, as S += L·R with L = [−V −W] (size × 2·count) and R = [W; V], each entry
 * summed over the 2·count terms in order from its value. The SIMD kernel computes the upper
 * triangle a block of four rows at a time (from each block's first row's column, so a few entries
 * just below the diagonal too, which nothing reads) with R passed in L2-sized column panels; the
 * loops compute the upper triangle.
 */
function updateTrailing(
  kernels: DenseSimdKernels | null,
  split: SimdArena | null,
  work: Float64Array,
  n: number,
  from: number,
  count: number,
  panelV: Float64Array,
  panelW: Float64Array,
  left: Float64Array,
  right: Float64Array,
): void {
  const size = n - from;
  if (size <= 0 || count === 0) return;
  const inner = 2 * count;
  for (let i = 0; i < size; i++) {
    for (let t = 0; t < count; t++) {
      left[i * inner + t] = -panelV[t * n + from + i];
      left[i * inner + count + t] = -panelW[t * n + from + i];
    }
  }
  left.fill(0, size * inner, (size + 4) * inner);
  const corner = from * n + from;
  if (!kernels) {
    for (let i = 0; i < size; i++) {
      for (let t = 0; t < inner; t++) {
        const factor = left[i * inner + t];
        const source = t < count ? panelW : panelV;
        const base = (t % count) * n + from;
        for (let j = i; j < size; j++) work[corner + i * n + j] += factor * source[base + j];
      }
    }
    return;
  }
  for (let c0 = 0; c0 < size; c0 += COLUMN_PANEL) {
    const width = Math.min(COLUMN_PANEL, size - c0);
    for (let t = 0; t < inner; t++) {
      const source = t < count ? panelW : panelV;
      const base = (t % count) * n + from + c0;
      right.set(source.subarray(base, base + width), t * width);
    }
    // Blocks of four rows above the panel take all its columns; from the panel's first column on,
    // a block starts at its own first row (c0 is a multiple of four); blocks below it take none.
    const above = c0 / 4;
    const blocks = Math.ceil(Math.min(c0 + width, size) / 4);
    const job = { xa: addressOf(left), xs: 8 * inner, xk: 8, d: inner, yt: addressOf(right), ld: width, c: addressOf(work, corner + c0), cs: 8 * n, firstRow: -c0, add: true };
    for (const [b0, b1, symmetric] of [[0, above, false], [above, blocks, true]] as const) {
      const threads = split && (b1 - b0) * 4 * width * inner >= THREADED_MIN_WORK ? split : null;
      runRowBlocks(kernels, threads, { ...job, symmetric }, b0, b1);
    }
  }
}
