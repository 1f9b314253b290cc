import { type Matrix, matmulMatrix } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { KernelMatrix, type KernelMatrixOptions, tileSizeOf } from './kernel-matrix.js';
import { hostKernelRows, radialCrossProduct, usesHostGramRoute } from './radial-cross.js';

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
  const m = y.rows;
  const k = v.cols;
  if (usesHostGramRoute(kernel, options.engine) && m * k <= SMALL_V_VALUES) return radialCrossProduct(kernel, x, y, v);
  // Kernel rows a tile at a time, each tile times V by matmulMatrix (its cache-sized panels and
  // worker threads), added into the product from zero. A tile holds about tileSize² values, or k rows
  // when V is wider (no more memory than V itself): every tile copies V's panels once, so thin tiles
  // against a wide V spent more on those copies than on the product.
  const tileSize = tileSizeOf(options, 'crossProduct');
  const tileRows = Math.max(4, Math.min(x.rows, Math.max(k, Math.floor((tileSize * tileSize) / m))));
  const rowsOf = hostKernelRows(kernel, x, y, options.engine);
  const tile = new Float64Array(tileRows * m);
  const out = new Float64Array(x.rows * k);
  for (let r0 = 0; r0 < x.rows; r0 += tileRows) {
    const r1 = Math.min(x.rows, r0 + tileRows);
    const rows = r1 - r0;
    rowsOf(r0, r1, tile);
    matmulMatrix({ rows, cols: m, data: tile.subarray(0, rows * m) }, v, { accumulate: { rows, cols: k, data: out.subarray(r0 * k, r1 * k) } });
  }
  return { rows: x.rows, cols: k, data: out };
}

// For a radial kernel, V (m × k) up to this many values (256 KiB) stays in a core's L2 cache while
// radialCrossProduct multiplies every block of four kernel rows by it; a larger one (Nyström's
// K_CC^{-1/2}) goes through the tiles and matmulMatrix's panels, with the same values.
const SMALL_V_VALUES = 32768;

/** K(x, y)·V on a device engine (read back asynchronously), the operator's device copies released after. */
export async function crossProductAsync(kernel: Kernel, x: Matrix, y: Matrix, v: Matrix, options: KernelMatrixOptions): Promise<Matrix> {
  const operator = new KernelMatrix(kernel, x, y, options);
  try {
    return await operator.multiplyAsync(v);
  } finally {
    operator.dispose();
  }
}
