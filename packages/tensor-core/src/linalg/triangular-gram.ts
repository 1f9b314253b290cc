import { addressOf } from '../simd/simd-arena.js';
import { scratchAreas } from '../simd/scratch-arena.js';
import type { Matrix } from './matrix.js';
import { requireSquareMatrix } from './matrix-ops.js';

// Below this order the copies into WebAssembly memory cost more than the SIMD loop saves.
const SIMD_MIN_ORDER = 32;

/**
 * LᵀL for a lower-triangular L (n×n; its upper triangle is not read), the symmetric n×n product
 * LAPACK calls lauum: entry (i, j) is Σ_{k ≥ max(i, j)} L[k][i]·L[k][j], summed over k in ascending
 * order. It skips the zeros above the diagonal, a third of a full product's work; from order 32 on it
 * runs in the WebAssembly SIMD row-block kernel where available, with the same float64 values.
 */
export function triangularGram(l: Matrix): Matrix {
  requireSquareMatrix(l, 'triangularGram');
  const n = l.rows;
  const out = new Float64Array(n * n);
  if (!(n >= SIMD_MIN_ORDER && simdUpperGram(l.data, n, out))) scalarUpperGram(l.data, n, out);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out[j * n + i] = out[i * n + j];
  return { rows: n, cols: n, data: out };
}

/** The upper triangle of LᵀL, row k of L at a time: each adds L[k][i]·L[k][j] to (i, j) for i ≤ j ≤ k. */
function scalarUpperGram(ld: Float64Array, n: number, out: Float64Array): void {
  for (let k = 0; k < n; k++) {
    const row = k * n;
    for (let i = 0; i <= k; i++) {
      const w = ld[row + i];
      const o = i * n;
      for (let j = i; j <= k; j++) out[o + j] += w * ld[row + j];
    }
  }
}

/**
 * The upper triangle of LᵀL four rows at a time: rows i0..i0+3 of Lᵀ — columns of L, read in place
 * from row i0 on, where they start being nonzero — against L's rows i0.. as the right-hand factor,
 * from column i0 on. False where SIMD is unavailable.
 */
function simdUpperGram(ld: Float64Array, n: number, out: Float64Array): boolean {
  // Four spare values: the last block's padding rows read up to three entries past the matrix.
  const scratch = scratchAreas([n * n + 4, 4 * n]);
  if (!scratch) return false;
  const [factor, block] = scratch.areas;
  factor.set(ld);
  // Only L's lower triangle is read: the copy's upper triangle is cleared (it may hold anything).
  for (let i = 0; i < n; i++) factor.fill(0, i * n + i + 1, (i + 1) * n);
  for (let i0 = 0; i0 < n; i0 += 4) {
    const height = Math.min(4, n - i0);
    // x_r[k] = L[i0 + k][i0 + r]: one block of four rows, columns from i0 (its diagonal) on.
    scratch.kernels.rowBlocksProducts(addressOf(factor, i0 * n + i0), 8, 8 * n, n - i0, addressOf(factor, i0 * n), n, addressOf(block), 8 * n, 0, 1, i0, 1, 0);
    for (let r = 0; r < height; r++) out.set(block.subarray(r * n + i0 + r, (r + 1) * n), (i0 + r) * n + i0 + r);
  }
  return true;
}
