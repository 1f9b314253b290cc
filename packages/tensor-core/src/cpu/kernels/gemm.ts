/**
 * Cache-blocked single-threaded GEMM on host arrays, accumulating in float64 (JavaScript numbers).
 * Row-major operands with element offsets, so batched callers pass views without copying.
 */
export type FloatArray = Float32Array | Float64Array;

/** Rows of B kept hot while a block of A streams past (B block ≈ 128 KiB for k = 512 in f32). */
const N_BLOCK = 64;

/**
 * C[m,n] = A[m,k] · B[n,k]ᵀ: every output is a dot product of two contiguous rows. Register blocks
 * of 4 rows of A × 2 rows of B (8 accumulators: fits x64's 16 float registers with the 6 loaded
 * values, where 4 × 4 spills), and 1 × 4 for single rows (decode's GEMV). Each output is summed in
 * the same order whatever the blocking, so results do not depend on m.
 */
export function gemmNT(a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number, m: number, n: number, k: number): void {
  for (let j0 = 0; j0 < n; j0 += N_BLOCK) {
    const j1 = Math.min(n, j0 + N_BLOCK);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const a0 = aOff + i * k;
      const a1 = a0 + k;
      const a2 = a1 + k;
      const a3 = a2 + k;
      let j = j0;
      for (; j + 2 <= j1; j += 2) rowBlock4x2(a, a0, a1, a2, a3, b, bOff + j * k, c, cOff + i * n + j, n, k);
      for (; j < j1; j++) {
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
      let j = j0;
      for (; j + 4 <= j1; j += 4) {
        const b0 = bOff + j * k;
        const b1 = b0 + k;
        const b2 = b1 + k;
        const b3 = b2 + k;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let p = 0; p < k; p++) {
          const x = a[ai + p];
          s0 += x * b[b0 + p];
          s1 += x * b[b1 + p];
          s2 += x * b[b2 + p];
          s3 += x * b[b3 + p];
        }
        const cj = cOff + i * n + j;
        c[cj] = s0;
        c[cj + 1] = s1;
        c[cj + 2] = s2;
        c[cj + 3] = s3;
      }
      for (; j < j1; j++) {
        const bj = bOff + j * k;
        let s0 = 0;
        for (let p = 0; p < k; p++) s0 += a[ai + p] * b[bj + p];
        c[cOff + i * n + j] = s0;
      }
    }
  }
}

/** Rows a0..a3 of A against rows b0, b0 + k of B, written at c[cj…] (row stride n). */
function rowBlock4x2(a: FloatArray, a0: number, a1: number, a2: number, a3: number, b: FloatArray, b0: number, c: FloatArray, cj: number, n: number, k: number): void {
  const b1 = b0 + k;
  let s00 = 0;
  let s10 = 0;
  let s20 = 0;
  let s30 = 0;
  let s01 = 0;
  let s11 = 0;
  let s21 = 0;
  let s31 = 0;
  for (let p = 0; p < k; p++) {
    const u = b[b0 + p];
    const v = b[b1 + p];
    const x0 = a[a0 + p];
    const x1 = a[a1 + p];
    const x2 = a[a2 + p];
    const x3 = a[a3 + p];
    s00 += x0 * u;
    s10 += x1 * u;
    s20 += x2 * u;
    s30 += x3 * u;
    s01 += x0 * v;
    s11 += x1 * v;
    s21 += x2 * v;
    s31 += x3 * v;
  }
  c[cj] = s00;
  c[cj + 1] = s01;
  c[cj + n] = s10;
  c[cj + n + 1] = s11;
  c[cj + 2 * n] = s20;
  c[cj + 2 * n + 1] = s21;
  c[cj + 3 * n] = s30;
  c[cj + 3 * n + 1] = s31;
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
