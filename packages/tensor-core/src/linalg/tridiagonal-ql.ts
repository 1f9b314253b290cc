import { NotConvergedError } from '../errors.js';
import type { ColumnRotationBatch } from './matrix-ops.js';

const EPSILON = Number.EPSILON;
/** QL iterations allowed per eigenvalue; two or three are typical with Wilkinson's shift. */
const MAX_ITERATIONS_PER_EIGENVALUE = 50;

/**
 * Diagonalizes the symmetric tridiagonal (diagonal, offDiagonal) in place by implicit QL sweeps with
 * Wilkinson's shift, chasing the bulge with Givens rotations (Golub & Van Loan §8.3.3, in its QL
 * orientation). Each sweep's rotations are recorded in `batch` (the columns of the n×n vectors,
 * starting as Q), whose `finish` then gives the eigenvectors. Without a batch (eigenvalues only)
 * the rotations are not kept.
 */
export function tridiagonalQl(diagonal: Float64Array, offDiagonal: Float64Array, batch: ColumnRotationBatch | null, n: number): void {
  const d = diagonal;
  const e = offDiagonal;
  const cosines = new Float64Array(n);
  const sines = new Float64Array(n);
  // ‖T‖∞ bounds every eigenvalue and is preserved (up to rounding) by the orthogonal sweeps, so
  // ε‖T‖ is the absolute accuracy any eigenvalue can have. An off-diagonal below it is negligible
  // even when its neighbouring diagonal entries are tiny too: the purely relative test alone never
  // deflates inside a cluster of (numerically) zero eigenvalues and the iteration stalls there.
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]) + (i > 0 ? Math.abs(e[i - 1]) : 0));
  const absoluteFloor = EPSILON * norm;
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      // Find the first negligible off-diagonal at or after l: the block l..m is unreduced.
      let m = l;
      while (m < n - 1 && !negligible(e[m], d[m], d[m + 1], absoluteFloor)) m++;
      if (m === l) break;
      if (++iterations > MAX_ITERATIONS_PER_EIGENVALUE) {
        throw new NotConvergedError(
          `eigh: the QL iteration did not converge for eigenvalue ${l} after ${MAX_ITERATIONS_PER_EIGENVALUE} sweeps`,
          { index: l, iterations: MAX_ITERATIONS_PER_EIGENVALUE },
        );
      }
      // Wilkinson shift: the eigenvalue of the leading 2×2 of the block closer to d[l].
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let lowest = m; // the sweep's rotations cover columns lowest..m
      let deflatedEarly = false;
      for (let i = m - 1; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // The bulge vanished (underflow): the block splits here; recover and restart.
          d[i + 1] -= p;
          e[m] = 0;
          deflatedEarly = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        // Columns (i, i+1) = (x, y) ← (c·x − s·y, s·x + c·y): the batch's convention with −s.
        cosines[i] = c;
        sines[i] = -s;
        lowest = i;
      }
      batch?.add(lowest, m, false, cosines, sines);
      if (deflatedEarly) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/**
 * Whether the off-diagonal `e` between diagonal entries `d0` and `d1` can be set to zero: small
 * relative to its neighbours (keeps small eigenvalues of graded matrices accurate) or below the
 * absolute floor ε‖T‖ (guarantees progress inside clusters of tiny eigenvalues).
 */
function negligible(e: number, d0: number, d1: number, absoluteFloor: number): boolean {
  const size = Math.abs(e);
  return size <= EPSILON * (Math.abs(d0) + Math.abs(d1)) || size <= absoluteFloor;
}
