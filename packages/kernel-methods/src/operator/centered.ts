import type { LinearOperator, Matrix } from '@kvkit/tensor-core';
import { centerColumns } from '../util/linalg.js';

/**
 * The doubly centered kernel matrix H K H (H = I − 11ᵀ/n) as an operator: H K H V = H (K (H V)),
 * two cheap centerings around one product, so kernel PCA centers in feature space without storing
 * K or H K H.
 */
export function centeredOperator(k: LinearOperator): LinearOperator {
  const apply = (v: Matrix): Matrix => centerColumns(k.multiply(centerColumns(v)));
  return { rows: k.rows, cols: k.cols, multiply: apply, multiplyTransposed: apply };
}

/** H K H of a stored square matrix, in place on a copy. */
export function centerGram(k: Matrix): { centered: Matrix; rowMeans: Float64Array; mean: number } {
  const n = k.rows;
  const rowMeans = gramRowMeans(k);
  const mean = rowMeans.reduce((a, b) => a + b, 0) / n;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = k.data[i * n + j] - rowMeans[i] - rowMeans[j] + mean;
  return { centered: { rows: n, cols: n, data: out }, rowMeans, mean };
}

/** Row means of a square matrix. */
export function gramRowMeans(k: Matrix): Float64Array {
  const n = k.rows;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += k.data[i * n + j];
    out[i] = s / n;
  }
  return out;
}
