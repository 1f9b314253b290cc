import { type Matrix, matmulMatrix } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { KernelMatrix, type KernelMatrixOptions } from './kernel-matrix.js';
import { radialCrossProduct, usesHostGramRoute } from './radial-cross.js';

// Cross-kernel products K(x, y)·V with a wide V (Nyström's K_CC^{−1/2}, ridge leverage's L⁻ᵀ) on any
// engine: the host's Gram route or row tiles, a backend's lazy operator.

/** True for the default float64 host engine. */
export function isHostEngine(engine: KernelMatrixOptions['engine']): boolean {
  return engine === undefined || engine === 'host';
}

/**
 * K(x, y)·V, k(x, y) never stored whole. On the host engine: radial kernels by the Gram route
 * (`radialCrossProduct`), other kernels in row tiles of about tileSize² values evaluated in float64
 * and multiplied by V as they are made; on a synchronous backend (engine 'cpu'), the lazy
 * operator's f32 product.
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
  if (usesHostGramRoute(kernel, options.engine)) return radialCrossProduct(kernel, x, y, v);
  const m = y.rows;
  const tileSize = options.tileSize ?? 256;
  const tileRows = Math.max(4, Math.min(x.rows, Math.floor((tileSize * tileSize) / m)));
  const tile = new Float64Array(tileRows * m);
  const out = new Float64Array(x.rows * v.cols);
  for (let r0 = 0; r0 < x.rows; r0 += tileRows) {
    const r1 = Math.min(x.rows, r0 + tileRows);
    kernel.evaluate(x, y, tile, r0, r1, 0, m);
    out.set(matmulMatrix({ rows: r1 - r0, cols: m, data: tile.subarray(0, (r1 - r0) * m) }, v).data, r0 * v.cols);
  }
  return { rows: x.rows, cols: v.cols, data: out };
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
