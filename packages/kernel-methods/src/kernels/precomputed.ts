import { eigvalsh, IndexOutOfRangeError, InvalidConfigError, type Matrix, NotPositiveDefiniteError, ShapeMismatchError } from '@kvkit/tensor-core';
import { requireFinite } from '../points.js';
import type { Kernel, KernelSpec } from './kernel.js';

export interface PrecomputedOptions {
  /**
   * Check that K is positive semidefinite (smallest eigenvalue >= −tolerance·largest |eigenvalue|),
   * an O(n³) eigendecomposition; default true. Kernel methods silently give wrong answers on an
   * indefinite "kernel", so the check is on unless you know better.
   */
  checkPsd?: boolean;
  /** Relative tolerance of the symmetry and PSD checks (default 1e-8). */
  tolerance?: number;
}

/** A kernel given by its Gram matrix; its "points" are 1-column matrices of row indices into K. */
export interface PrecomputedKernel extends Kernel {
  readonly gram: Matrix;
  /** The index points 0..n−1 (an n×1 matrix) that stand for the n items of K. */
  readonly points: Matrix;
}

/**
 * A precomputed Gram matrix K (n×n) as a kernel: points are index columns (`kernel.points`, or any
 * subset of its rows), so every estimator takes it like any other kernel. K must be finite,
 * symmetric and (by default, checked) positive semidefinite.
 */
export function precomputed(gram: Matrix, options: PrecomputedOptions = {}): PrecomputedKernel {
  if (gram.rows !== gram.cols) {
    throw new ShapeMismatchError(`precomputed: the Gram matrix must be square, got ${gram.rows}×${gram.cols}`, { rows: gram.rows, cols: gram.cols });
  }
  const n = gram.rows;
  if (n < 1) throw new InvalidConfigError('precomputed: the Gram matrix is empty');
  requireFinite(gram.data, n, 'precomputed', 'Gram row');
  const tolerance = options.tolerance ?? 1e-8;
  if (options.checkPsd ?? true) {
    // eigvalsh checks symmetry itself (within the same relative tolerance) and reports the worst pair.
    const values = eigvalsh(gram, { order: 'ascending', tolerance });
    const largest = Math.max(Math.abs(values[0]), Math.abs(values[n - 1]));
    if (values[0] < -tolerance * largest) {
      throw new NotPositiveDefiniteError(
        `precomputed: the Gram matrix is not positive semidefinite: its smallest eigenvalue is ${values[0]} ` +
          `(largest ${values[n - 1]}); a kernel matrix must have no negative eigenvalues beyond tolerance ${tolerance}`,
        { smallest: values[0], largest: values[n - 1] },
      );
    }
  }
  const data = gram.data;
  const points: Matrix = { rows: n, cols: 1, data: Float64Array.from({ length: n }, (_, i) => i) };
  const indexOf = (m: Matrix, i: number): number => {
    const v = m.data[i];
    if (!Number.isInteger(v) || v < 0 || v >= n) {
      throw new IndexOutOfRangeError(`precomputed: point ${i} is ${v}, not an index into the ${n}×${n} Gram matrix`, { index: v, n });
    }
    return v;
  };
  return {
    name: 'precomputed',
    params: { n },
    inputDim: 1,
    gram,
    points,
    evaluate(x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
      const width = colEnd - colStart;
      const cols = new Int32Array(width);
      for (let j = colStart; j < colEnd; j++) cols[j - colStart] = indexOf(y, j);
      for (let i = rowStart; i < rowEnd; i++) {
        const row = indexOf(x, i) * n;
        const base = (i - rowStart) * width;
        for (let j = 0; j < width; j++) out[base + j] = data[row + cols[j]];
      }
    },
    diagonal(x: Matrix): Float64Array {
      const out = new Float64Array(x.rows);
      for (let i = 0; i < x.rows; i++) {
        const k = indexOf(x, i);
        out[i] = data[k * n + k];
      }
      return out;
    },
    toJSON: (): KernelSpec => ({ name: 'precomputed', params: { n, gram: Array.from(data) } }),
  };
}
