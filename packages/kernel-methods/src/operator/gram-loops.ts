// The JavaScript loops shared by the stored kernel matrix and the radial cross products (the
// fallback where WebAssembly SIMD is unavailable, and the short edges the SIMD loops leave).
import type { Matrix } from '@kvkit/tensor-core';

// Rows per register block of the Gram products.
export const ROW_BLOCK = 4;

/**
 * out[offsets[r] + j] = x_{row r}·y_j for the four consecutive rows of x from `a0` (a flat offset)
 * and j in [j0, j1): each y_j is read once for four dot products (register blocking).
 */
export function fourRowProducts(xd: Float64Array, a0: number, yd: Float64Array, d: number, j0: number, j1: number, out: Float64Array, offsets: number[]): void {
  const a1 = a0 + d;
  const a2 = a1 + d;
  const a3 = a2 + d;
  const [o0, o1, o2, o3] = offsets;
  for (let j = j0; j < j1; j++) {
    const b = j * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let k = 0; k < d; k++) {
      const v = yd[b + k];
      s0 += xd[a0 + k] * v;
      s1 += xd[a1 + k] * v;
      s2 += xd[a2 + k] * v;
      s3 += xd[a3 + k] * v;
    }
    out[o0 + j] = s0;
    out[o1 + j] = s1;
    out[o2 + j] = s2;
    out[o3 + j] = s3;
  }
}

/** xd[a..a+d) · xd[b..b+d). */
export function dot(xd: Float64Array, a: number, b: number, d: number): number {
  return dotBetween(xd, a, xd, b, d);
}

/** xd[a..a+d) · yd[b..b+d). */
export function dotBetween(xd: Float64Array, a: number, yd: Float64Array, b: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += xd[a + k] * yd[b + k];
  return s;
}

/** out[i] = ‖xᵢ‖². */
export function squaredNorms(x: Matrix, out: Float64Array): Float64Array {
  const { rows, cols: d, data } = x;
  for (let i = 0; i < rows; i++) out[i] = dot(data, i * d, i * d, d);
  return out;
}

/** y's columns as rows (out[t·m + j] = y[j, t]): what the row-block kernel reads as its "transposed" operand. */
export function columnsOf(y: Matrix, out: Float64Array): Float64Array {
  const { rows: m, cols: d, data } = y;
  for (let j = 0; j < m; j++) for (let t = 0; t < d; t++) out[t * m + j] = data[j * d + t];
  return out;
}

/** ‖x_a − y_b‖² by differences (exact where the Gram expansion cancels). */
function crossSquaredDistance(xd: Float64Array, a: number, yd: Float64Array, b: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) {
    const u = xd[a + t] - yd[b + t];
    s += u * u;
  }
  return s;
}

/**
 * values[offset + j] ← f(‖x_a − y_j‖²) for j0 ≤ j < j1, from the dot products x_a·y_j held there:
 * ‖x_a‖² + ‖y_j‖² − 2x_a·y_j, recomputed by differences where the expansion cancels (near-duplicate
 * points), so √-based profiles stay exact to float64 rounding. `ni` = ‖x_a‖², `norms[j]` = ‖y_j‖².
 */
export function radialProfileFromProducts(
  f: (s: number) => number,
  values: Float64Array,
  offset: number,
  j0: number,
  j1: number,
  ni: number,
  norms: Float64Array,
  xd: Float64Array,
  a: number,
  yd: Float64Array,
  d: number,
): void {
  for (let j = j0; j < j1; j++) {
    const scale = ni + norms[j];
    let s = scale - 2 * values[offset + j];
    if (s < 1e-6 * scale) s = crossSquaredDistance(xd, a, yd, j * d, d);
    values[offset + j] = f(s);
  }
}
