import { type Matrix, transposeMatrix } from '@kvkit/tensor-core';
import { squaredDistances } from '../kernels/distances.js';
import { isRadialKernel, type Kernel } from '../kernels/kernel.js';
import { rightMultiplier } from '../util/dense-product.js';
import { KernelMatrix, type KernelMatrixOptions } from './kernel-matrix.js';

// Cross-kernel products K(x, y)·V with a wide V (Nyström's K_CC^{−1/2}, ridge leverage's L⁻ᵀ): on the
// host by row tiles of K multiplied as they are made, on a device engine by the lazy operator.

/** True for the default float64 host engine. */
export function isHostEngine(engine: KernelMatrixOptions['engine']): boolean {
  return engine === undefined || engine === 'host';
}

/**
 * K(x, y)·V. On the host engine: row tiles of about tileSize² kernel values evaluated in float64 and
 * multiplied by V as they are made (k(x, y) is never stored whole); on a synchronous backend
 * (engine 'cpu'), the lazy operator's f32 product.
 */
export function crossProduct(kernel: Kernel, x: Matrix, y: Matrix, v: Matrix, options: KernelMatrixOptions): Matrix {
  if (!isHostEngine(options.engine)) {
    const operator = new KernelMatrix(kernel, x, y, options);
    try {
      return operator.multiply(v);
    } finally {
      operator.dispose();
    }
  }
  const m = y.rows;
  const tileSize = options.tileSize ?? 256;
  const tileRows = Math.max(4, Math.min(x.rows, Math.floor((tileSize * tileSize) / m)));
  const times = rightMultiplier(v);
  const kernelRows = hostKernelRows(kernel, x, y);
  const out = new Float64Array(x.rows * v.cols);
  for (let r0 = 0; r0 < x.rows; r0 += tileRows) {
    const r1 = Math.min(x.rows, r0 + tileRows);
    out.set(times(kernelRows(r0, r1)).data, r0 * v.cols);
  }
  return { rows: x.rows, cols: v.cols, data: out };
}

/**
 * (r0, r1) → k(x[r0:r1], y) in float64. Radial kernels by the Gram route: the dot products x_i·y_j
 * as one dense product (SIMD where available), then ‖x_i − y_j‖² = ‖x_i‖² + ‖y_j‖² − 2x_i·y_j,
 * recomputed by differences where that cancels (below 1e-6 of ‖x_i‖² + ‖y_j‖²: near-duplicate
 * points) so √-based profiles stay exact; other kernels through `kernel.evaluate`.
 */
function hostKernelRows(kernel: Kernel, x: Matrix, y: Matrix): (r0: number, r1: number) => Matrix {
  const { cols: d, data: xd } = x;
  const { rows: m, data: yd } = y;
  if (!isRadialKernel(kernel)) {
    return (r0, r1) => {
      const out = new Float64Array((r1 - r0) * m);
      kernel.evaluate(x, y, out, r0, r1, 0, m);
      return { rows: r1 - r0, cols: m, data: out };
    };
  }
  const f = kernel.profile;
  const dots = rightMultiplier(transposeMatrix(y));
  const yNorms = new Float64Array(m);
  for (let j = 0; j < m; j++) yNorms[j] = squaredNorm(yd, j * d, d);
  const pair = new Float64Array(1);
  return (r0, r1) => {
    const tile = dots({ rows: r1 - r0, cols: d, data: xd.subarray(r0 * d, r1 * d) });
    const out = tile.data;
    for (let i = r0; i < r1; i++) {
      const xNorm = squaredNorm(xd, i * d, d);
      const row = (i - r0) * m;
      for (let j = 0; j < m; j++) {
        const scale = xNorm + yNorms[j];
        let s = scale - 2 * out[row + j];
        if (s < 1e-6 * scale) {
          squaredDistances(x, y, pair, i, i + 1, j, j + 1);
          s = pair[0];
        }
        out[row + j] = f(s);
      }
    }
    return tile;
  };
}

function squaredNorm(ad: Float64Array, a: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += ad[a + t] * ad[a + t];
  return s;
}

/** K(x, y)·V on a device engine (read back asynchronously), the operator's device copies released after. */
export async function crossProductAsync(kernel: Kernel, x: Matrix, y: Matrix, v: Matrix, options: KernelMatrixOptions): Promise<Matrix> {
  const operator = new KernelMatrix(kernel, x, y, options);
  try {
    return await operator.multiplyAsync(v);
  } finally {
    operator.dispose();
  }
}
