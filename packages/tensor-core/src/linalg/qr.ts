import type { Matrix } from './matrix.js';
import { axpy, requireFiniteMatrix } from './matrix-ops.js';
import { householder } from './reflections.js';

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
  const work = Float64Array.from(a.data);
  const taus = new Float64Array(k);
  const heads = new Float64Array(k);
  const w = new Float64Array(n);
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
    const width = n - j - 1;
    w.fill(0, 0, width);
    for (let i = j; i < m; i++) {
      const vi = work[i * n + j];
      if (vi !== 0) axpy(vi, work, i * n + j + 1, w, 0, width);
    }
    for (let i = j; i < m; i++) {
      const vi = work[i * n + j];
      if (vi !== 0) axpy(-tau * vi, w, 0, work, i * n + j + 1, width);
    }
    // R needs α in the diagonal slot, so the reflection vector's head moves to a side array.
    heads[j] = x0 - alpha;
    work[j * n + j] = alpha;
  }

  // R: the upper trapezoid of the reduced matrix.
  const r = new Float64Array(k * n);
  for (let i = 0; i < k; i++) for (let c = i; c < n; c++) r[i * n + c] = work[i * n + c];

  // Q = H_0 ⋯ H_{k-1} [I_k; 0], applied from the left in reverse: when H_j is applied only
  // columns j..k-1 (rows j..m-1) differ from the identity's.
  const q = new Float64Array(m * k);
  for (let i = 0; i < k; i++) q[i * k + i] = 1;
  const v = new Float64Array(m);
  const t = new Float64Array(k);
  for (let j = k - 1; j >= 0; j--) {
    const tau = taus[j];
    if (tau === 0) continue;
    v[j] = heads[j];
    for (let i = j + 1; i < m; i++) v[i] = work[i * n + j];
    const width = k - j;
    t.fill(0, 0, width);
    for (let i = j; i < m; i++) if (v[i] !== 0) axpy(v[i], q, i * k + j, t, 0, width);
    for (let i = j; i < m; i++) if (v[i] !== 0) axpy(-tau * v[i], t, 0, q, i * k + j, width);
  }

  // Non-negative diagonal of R: flip row i of R together with column i of Q.
  for (let i = 0; i < k; i++) {
    if (r[i * n + i] >= 0) continue;
    for (let c = i; c < n; c++) r[i * n + c] = -r[i * n + c];
    for (let row = 0; row < m; row++) q[row * k + i] = -q[row * k + i];
  }
  return { q: { rows: m, cols: k, data: q }, r: { rows: k, cols: n, data: r } };
}
