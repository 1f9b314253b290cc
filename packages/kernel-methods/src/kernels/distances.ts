import { expandDims, type Matrix, mul, sub, sum, type Tensor } from '@kvkit/tensor-core';
import { withTensorScope } from '../util/tensor-scope.js';

type PairMeasure = 'manhattan' | 'inner';

/**
 * The pairwise measure of rows i in [rowStart, rowEnd) of x and j in [colStart, colEnd) of y into
 * `out` (row-major).
 */
function pairwise(measure: PairMeasure, x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
  const d = x.cols;
  const xd = x.data;
  const yd = y.data;
  const width = colEnd - colStart;
  for (let i = rowStart; i < rowEnd; i++) {
    const xi = i * d;
    const outRow = (i - rowStart) * width - colStart;
    for (let j = colStart; j < colEnd; j++) {
      const yj = j * d;
      let s = 0;
      if (measure === 'manhattan') {
        for (let k = 0; k < d; k++) s += Math.abs(xd[xi + k] - yd[yj + k]);
      } else {
        for (let k = 0; k < d; k++) s += xd[xi + k] * yd[yj + k];
      }
      out[outRow + j] = s;
    }
  }
}

type Ranges = [x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number];

/**
 * ‖x_i − y_j‖² over the ranges, by direct differences: exact (no cancellation of ‖x‖² + ‖y‖² − 2x·y)
 * and as fast for the small feature counts kernel methods meet. The hot loop of every radial kernel,
 * so it has its own pair loop (no per-pair choice of measure) with two accumulators over features.
 */
export function squaredDistances(x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
  const d = x.cols;
  const xd = x.data;
  const yd = y.data;
  const width = colEnd - colStart;
  for (let i = rowStart; i < rowEnd; i++) {
    const xi = i * d;
    const outRow = (i - rowStart) * width - colStart;
    for (let j = colStart; j < colEnd; j++) {
      const yj = j * d;
      let s0 = 0;
      let s1 = 0;
      let k = 0;
      for (; k + 1 < d; k += 2) {
        const a = xd[xi + k] - yd[yj + k];
        const b = xd[xi + k + 1] - yd[yj + k + 1];
        s0 += a * a;
        s1 += b * b;
      }
      if (k < d) {
        const a = xd[xi + k] - yd[yj + k];
        s0 += a * a;
      }
      out[outRow + j] = s0 + s1;
    }
  }
}
/** ‖x_i − y_j‖₁ over the ranges (the Laplace kernel's distance). */
export const manhattanDistances = (...args: Ranges): void => pairwise('manhattan', ...args);
/** x_i · y_j over the ranges. */
export const innerProducts = (...args: Ranges): void => pairwise('inner', ...args);

/** Squared norms of the rows of a [n, d] tensor, as [n, 1]. */
export function rowSquaredNorms(x: Tensor, track: <T extends Tensor>(t: T) => T): Tensor {
  return sum(track(mul(x, x)), { axes: 1, keepDims: true });
}

/**
 * ‖x_i − y_j‖² as a [bx, by] tensor by direct differences through a [bx, by, d] broadcast, on the
 * tensors' backend. Not the one-matmul expansion ‖x‖² + ‖y‖² − 2x·y: in f32 that cancels to noise
 * of ~1e-7·‖x‖² near r = 0, which √-based kernels (Matérn) turn into errors of ~1e-4.
 */
export function squaredDistanceTensor(x: Tensor, y: Tensor): Tensor {
  return withTensorScope((track) => {
    const diff = track(sub(track(expandDims(x, 1)), track(expandDims(y, 0))));
    return sum(track(mul(diff, diff)), { axes: 2 });
  });
}
