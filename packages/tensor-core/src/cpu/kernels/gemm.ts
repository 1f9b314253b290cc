/**
 * Cache-blocked GEMM on host arrays, accumulating in float64 (JavaScript numbers, or WebAssembly
 * SIMD for f32 operands: `simd-gemm.ts`), or for f32 outputs in f32 lanes where the caller asks
 * (`sums = 'f32'`). Row-major operands with element offsets, so batched callers pass views without
 * copying.
 */
import type { ProductSums } from '../../ops/matmul.js';
import { simdGemmNT } from './simd-gemm.js';

export type FloatArray = Float32Array | Float64Array;

/** Rows of B kept hot while a block of A streams past (B block ≈ 128 KiB for k = 512 in f32). */
const N_BLOCK = 64;

/**
 * C[m,n] = A[m,k] · B[n,k]ᵀ: every output is a dot product of two contiguous rows, summed in two
 * lanes (even p and odd p, each in order of p) added at the end — the order of the WebAssembly SIMD
 * kernel (`gemm-f32.wat`), which runs it for f32 operands where available: the same values either
 * way, and whatever the blocking, so results do not depend on m. Register blocks of 2 rows of A × 2
 * rows of B here (8 accumulators). With `sums = 'f32'` an f32 C gets gemmNTF32Sums's values instead.
 */
export function gemmNT(a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number, m: number, n: number, k: number, sums: ProductSums = 'f64'): void {
  if (simdGemmNT(a, aOff, b, bOff, c, cOff, m, n, k, sums)) return;
  if (sums === 'f32' && c instanceof Float32Array) return gemmNTF32Sums(a, aOff, b, bOff, c, cOff, m, n, k);
  for (let j0 = 0; j0 < n; j0 += N_BLOCK) {
    const j1 = Math.min(n, j0 + N_BLOCK);
    for (let i = 0; i < m; i += 2) {
      const a0 = aOff + i * k;
      // A single last row pairs with itself (its second result is dropped).
      const a1 = i + 1 < m ? a0 + k : a0;
      for (let j = j0; j < j1; j += 2) {
        const b0 = bOff + j * k;
        const b1 = j + 1 < j1 ? b0 + k : b0;
        let e00 = 0;
        let o00 = 0;
        let e01 = 0;
        let o01 = 0;
        let e10 = 0;
        let o10 = 0;
        let e11 = 0;
        let o11 = 0;
        let p = 0;
        for (; p + 2 <= k; p += 2) {
          const x0 = a[a0 + p];
          const y0 = a[a1 + p];
          const u0 = b[b0 + p];
          const v0 = b[b1 + p];
          e00 += x0 * u0;
          e01 += x0 * v0;
          e10 += y0 * u0;
          e11 += y0 * v0;
          const x1 = a[a0 + p + 1];
          const y1 = a[a1 + p + 1];
          const u1 = b[b0 + p + 1];
          const v1 = b[b1 + p + 1];
          o00 += x1 * u1;
          o01 += x1 * v1;
          o10 += y1 * u1;
          o11 += y1 * v1;
        }
        if (p < k) {
          e00 += a[a0 + p] * b[b0 + p];
          e01 += a[a0 + p] * b[b1 + p];
          e10 += a[a1 + p] * b[b0 + p];
          e11 += a[a1 + p] * b[b1 + p];
        }
        const cj = cOff + i * n + j;
        c[cj] = e00 + o00;
        if (j + 1 < j1) c[cj + 1] = e01 + o01;
        if (i + 1 < m) {
          c[cj + n] = e10 + o10;
          if (j + 1 < j1) c[cj + n + 1] = e11 + o11;
        }
      }
    }
  }
}

/**
 * C[m,n] = A[m,k] · B[n,k]ᵀ summed in f32 (gemm-f32-sums.wat's order, so the same values as its
 * kernels): each product rounded to f32, added in four lanes (p mod 4, each in order of p; a last
 * k mod 4 terms fill the low lanes and the others add 0), combined as (lane 0 + lane 2) + (lane 1 +
 * lane 3). Math.fround of a float64 sum or product of f32 values is the f32 operation's result
 * (float64 carries more than twice f32's digits, so rounding twice changes nothing).
 */
function gemmNTF32Sums(a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: Float32Array, cOff: number, m: number, n: number, k: number): void {
  const f = Math.fround;
  const quads = k - (k % 4);
  for (let i = 0; i < m; i++) {
    const ai = aOff + i * k;
    for (let j = 0; j < n; j++) {
      const bj = bOff + j * k;
      let l0 = 0;
      let l1 = 0;
      let l2 = 0;
      let l3 = 0;
      for (let p = 0; p < quads; p += 4) {
        l0 = f(l0 + f(a[ai + p] * b[bj + p]));
        l1 = f(l1 + f(a[ai + p + 1] * b[bj + p + 1]));
        l2 = f(l2 + f(a[ai + p + 2] * b[bj + p + 2]));
        l3 = f(l3 + f(a[ai + p + 3] * b[bj + p + 3]));
      }
      if (quads < k) {
        const term = (lane: number) => (quads + lane < k ? f(a[ai + quads + lane] * b[bj + quads + lane]) : 0);
        l0 = f(l0 + term(0));
        l1 = f(l1 + term(1));
        l2 = f(l2 + term(2));
        l3 = f(l3 + term(3));
      }
      c[cOff + i * n + j] = f(l0 + l2) + f(l1 + l3);
    }
  }
}

/**
 * C[m,n] = A[m,k] · B[k,n]: row i of C accumulates rows of B scaled by A[i,p] (contiguous axpy)
 * in two float64 row buffers, even p and odd p, added at the end: gemmNT's order, so both give the
 * same values.
 */
export function gemmNN(a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number, m: number, n: number, k: number): void {
  const even = new Float64Array(n);
  const odd = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    even.fill(0);
    odd.fill(0);
    const ai = aOff + i * k;
    for (let p = 0; p < k; p++) {
      const av = a[ai + p];
      if (av === 0) continue;
      const row = p % 2 === 0 ? even : odd;
      const bp = bOff + p * n;
      for (let j = 0; j < n; j++) row[j] += av * b[bp + j];
    }
    const ci = cOff + i * n;
    for (let j = 0; j < n; j++) c[ci + j] = even[j] + odd[j];
  }
}

/** Writes the transpose of the rows×cols matrix at `off` into a new contiguous array of the same type. */
export function transposeMatrix(src: FloatArray, off: number, rows: number, cols: number): FloatArray {
  const out = src instanceof Float32Array ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[off + r * cols + c];
  return out;
}
