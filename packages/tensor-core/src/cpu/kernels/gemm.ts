/**
 * Cache-blocked single-threaded GEMM on host arrays, accumulating in float64 (JavaScript numbers).
 * Row-major operands with element offsets, so batched callers pass views without copying.
 */
export type FloatArray = Float32Array | Float64Array;

/** Rows of B kept hot while a block of A streams past (B block ≈ 128 KiB for k = 512 in f32). */
const N_BLOCK = 64;

/** C[m,n] = A[m,k] · B[n,k]ᵀ: every output is a dot product of two contiguous rows. */
export function gemmNT(a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number, m: number, n: number, k: number): void {
  for (let j0 = 0; j0 < n; j0 += N_BLOCK) {
    const j1 = Math.min(n, j0 + N_BLOCK);
    let i = 0;
    // Four rows of A against one row of B: each loaded b value feeds four accumulators.
    for (; i + 4 <= m; i += 4) {
      const a0 = aOff + i * k;
      const a1 = a0 + k;
      const a2 = a1 + k;
      const a3 = a2 + k;
      for (let j = j0; j < j1; j++) {
        const bj = bOff + j * k;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let p = 0; p < k; p++) {
          const bv = b[bj + p];
          s0 += a[a0 + p] * bv;
          s1 += a[a1 + p] * bv;
          s2 += a[a2 + p] * bv;
          s3 += a[a3 + p] * bv;
        }
        const cj = cOff + i * n + j;
        c[cj] = s0;
        c[cj + n] = s1;
        c[cj + 2 * n] = s2;
        c[cj + 3 * n] = s3;
      }
    }
    for (; i < m; i++) {
      const ai = aOff + i * k;
      for (let j = j0; j < j1; j++) {
        const bj = bOff + j * k;
        let s0 = 0;
        let s1 = 0;
        let p = 0;
        for (; p + 2 <= k; p += 2) {
          s0 += a[ai + p] * b[bj + p];
          s1 += a[ai + p + 1] * b[bj + p + 1];
        }
        if (p < k) s0 += a[ai + p] * b[bj + p];
        c[cOff + i * n + j] = s0 + s1;
      }
    }
  }
}

/**
 * C[m,n] = A[m,k] · B[k,n]: row i of C accumulates rows of B scaled by A[i,p] (contiguous axpy),
 * in a float64 row buffer.
 */
export function gemmNN(a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number, m: number, n: number, k: number): void {
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    const ai = aOff + i * k;
    for (let p = 0; p < k; p++) {
      const av = a[ai + p];
      if (av === 0) continue;
      const bp = bOff + p * n;
      for (let j = 0; j < n; j++) row[j] += av * b[bp + j];
    }
    const ci = cOff + i * n;
    for (let j = 0; j < n; j++) c[ci + j] = row[j];
  }
}

/** Writes the transpose of the rows×cols matrix at `off` into a new contiguous array. */
export function transposeMatrix(src: FloatArray, off: number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[off + r * cols + c];
  return out;
}
