import { scratchAreas } from '../simd/scratch-arena.js';
import type { Matrix } from './matrix.js';
import { requireFiniteMatrix } from './matrix-ops.js';
import { householder, reflectRows } from './reflections.js';

// From this many entries of A the reflections' row loops run in the SIMD kernels, in the kept
// scratch arena: the same operations in the same order, so the same float64 values. A tall, thin
// A (randomizedSvd's range finder: 2000 × 20) has rows of a few entries, where a JavaScript axpy
// call per row cost more than its arithmetic.
const SIMD_MIN_ENTRIES = 1024;

export interface QrResult {
  /** m×k with orthonormal columns, k = min(m, n). */
  q: Matrix;
  /** k×n upper triangular (trapezoidal when n > m), with a non-negative diagonal. */
  r: Matrix;
}

/**
 * Thin QR factorization A = Q R by Householder reflections (Golub & Van Loan Alg. 5.2.1): Q stays
 * orthonormal to working precision whatever the conditioning of A (unlike Gram–Schmidt), which is
 * what the range finder of randomizedSvd relies on. R's diagonal is made non-negative, so the
 * factorization is unique for full-rank A.
 */
export function qr(a: Matrix): QrResult {
  requireFiniteMatrix(a, 'qr');
  const { rows: m, cols: n } = a;
  const k = Math.min(m, n);
  const lengths = [m * n, m * k, m, n];
  const simd = m * n >= SIMD_MIN_ENTRIES ? scratchAreas(lengths) : null;
  const [work, q, v, w] = simd ? simd.areas : lengths.map((length) => new Float64Array(length));
  const kernels = simd?.kernels ?? null;
  work.set(a.data);
  const taus = new Float64Array(k);
  const heads = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    // Reflect column j, rows j..m-1, onto a multiple of e_j; v is kept in place of the zeroed part.
    let sumSquares = 0;
    for (let i = j + 1; i < m; i++) sumSquares += work[i * n + j] * work[i * n + j];
    if (sumSquares === 0) continue;
    const x0 = work[j * n + j];
    const { alpha, tau } = householder(x0, sumSquares);
    work[j * n + j] = x0 - alpha;
    taus[j] = tau;
    // Trailing columns: A ← A − τ v (vᵀA), vᵀA gathered row by row so access stays contiguous.
    for (let i = j; i < m; i++) v[i - j] = work[i * n + j];
    reflectRows(kernels, work, j * n + j + 1, n, m - j, n - j - 1, v, w, tau);
    // R needs α in the diagonal slot, so the reflection vector's head moves to a side array.
    heads[j] = x0 - alpha;
    work[j * n + j] = alpha;
  }

  // R: the upper trapezoid of the reduced matrix.
  const r = new Float64Array(k * n);
  for (let i = 0; i < k; i++) for (let c = i; c < n; c++) r[i * n + c] = work[i * n + c];

  // Q = H_0 ⋯ H_{k-1} [I_k; 0], applied from the left in reverse: when H_j is applied only
  // columns j..k-1 (rows j..m-1) differ from the identity's.
  q.fill(0);
  for (let i = 0; i < k; i++) q[i * k + i] = 1;
  for (let j = k - 1; j >= 0; j--) {
    const tau = taus[j];
    if (tau === 0) continue;
    v[0] = heads[j];
    for (let i = j + 1; i < m; i++) v[i - j] = work[i * n + j];
    reflectRows(kernels, q, j * k + j, k, m - j, k - j, v, w, tau);
  }

  // Non-negative diagonal of R: flip row i of R together with column i of Q.
  const qOut = q.slice(0, m * k);
  for (let i = 0; i < k; i++) {
    if (r[i * n + i] >= 0) continue;
    for (let c = i; c < n; c++) r[i * n + c] = -r[i * n + c];
    for (let row = 0; row < m; row++) qOut[row * k + i] = -qOut[row * k + i];
  }
  return { q: { rows: m, cols: k, data: qOut }, r: { rows: k, cols: n, data: r } };
}
