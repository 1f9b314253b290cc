// K(x, y)·V on the host in float64, k(x, y) never stored whole: what the host engine's cross
// products (Nyström, ridge leverage) and the lazy operator's products of radial kernels run.
import { type Matrix, matmulMatrix } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { hostKernelRows, radialCrossProduct, usesHostGramRoute } from './radial-cross.js';
import { threadedGaussianCrossProduct } from './threaded-gaussian-cross.js';

// For a radial kernel, V (m × k) up to this many values (256 KiB) stays in a core's L2 cache while
// radialCrossProduct multiplies every block of four kernel rows by it; a larger one (Nyström's
// K_CC^{-1/2}) goes through the tiles and matmulMatrix's panels, with the same values.
const SMALL_V_VALUES = 32768;

/**
 * K(x, y)·V: a Gaussian kernel on the worker threads once the work pays for them
 * (`threadedGaussianCrossProduct`: 1.4–1.8× on two vCPUs for the lazy CG's single column at
 * n = 1600–10 000), other radial kernels and small products by the Gram route on this thread
 * (`radialCrossProduct`), other kernels in row tiles of about tileSize² values evaluated in float64
 * and multiplied by V as they are made.
 */
export function hostCrossProduct(kernel: Kernel, x: Matrix, y: Matrix, v: Matrix, tileSize: number): Matrix {
  const m = y.rows;
  const k = v.cols;
  const radial = usesHostGramRoute(kernel, 'host');
  const threaded = radial ? threadedGaussianCrossProduct(kernel, x, y, v) : null;
  if (threaded) return threaded;
  if (radial && m * k <= SMALL_V_VALUES) return radialCrossProduct(kernel, x, y, v);
  // Kernel rows a tile at a time, each tile times V by matmulMatrix (its cache-sized panels and
  // worker threads), added into the product from zero. A tile holds about tileSize² values, or k rows
  // when V is wider (no more memory than V itself): every tile copies V's panels once, so thin tiles
  // against a wide V spent more on those copies than on the product.
  const tileRows = Math.max(4, Math.min(x.rows, Math.max(k, Math.floor((tileSize * tileSize) / m))));
  const rowsOf = hostKernelRows(kernel, x, y, 'host');
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
