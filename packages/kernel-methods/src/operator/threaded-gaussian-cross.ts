// K(x, y)·V for a Gaussian kernel and a wide V (Nyström's K_CC^{−1/2}) with every step split among
// tensor-core's worker threads, in one shared arena: a tile of kernel rows (its dot products by the
// row-block kernel, then the Gaussian profile), then the tile times V. Before, the kernel rows ran on
// one thread while the other waited, and each tile's product copied V into matmulMatrix's scratch.
import { balancedRanges, type Matrix, runRowBlocks, simdThreadCount } from '@kvkit/tensor-core';
import type { RadialKernel } from '../kernels/kernel.js';
import { addressOf, SimdArena } from '../wasm/simd-arena.js';
import { columnsOf, dot, ROW_BLOCK, squaredNorms } from './gram-loops.js';

/** Rows of x per tile (a multiple of four): the tile (512 × m) and its product stay a few MiB. */
const TILE_ROWS = 512;
/** Values of V per panel of the product (256 KiB, a core's L2), as matmulMatrix's panels. */
const PANEL_VALUES = 32768;
/**
 * From this many multiply-adds the hand-offs are worth it, as matmulMatrix's threshold: the kernel
 * rows' x.rows·m·d and the product's x.rows·m·V.cols.
 */
const THREADED_MIN_WORK = 2 ** 24;
/** V is copied into the arena whole: up to this many values (32 MiB, m = 2048 landmarks); a larger one takes the tiles. */
const MAX_V_VALUES = 2 ** 22;

/**
 * K(x, y)·V (x.rows × V.cols) for a Gaussian `kernel` on the worker threads, or null where they are
 * not to be had (one thread, no SIMD, a small product, a V over MAX_V_VALUES): the caller's tiles then run. The same
 * float64 values as radialCrossRows' kernel rows times matmulMatrix: the same kernels, each entry
 * summed by one thread in the same order.
 */
export function threadedGaussianCrossProduct(kernel: RadialKernel, x: Matrix, y: Matrix, v: Matrix): Matrix | null {
  const gamma = kernel.gaussianGamma;
  const n = x.rows;
  const d = x.cols;
  const m = y.rows;
  const k = v.cols;
  if (gamma === undefined || n * m * (d + k) < THREADED_MIN_WORK || m * k > MAX_V_VALUES || simdThreadCount() < 2) return null;
  const tileRows = Math.min(TILE_ROWS, ROW_BLOCK * Math.ceil(n / ROW_BLOCK));
  // A short last block of four reads (and writes) up to three rows past the tile: padding rows.
  const arena = SimdArena.create([tileRows * d, d * m, m, tileRows, tileRows * m, m * k, tileRows * k], { threads: true });
  if (!arena?.threads) {
    arena?.release();
    return null;
  }
  try {
    const [rows, columns, yNorms, xNorms, tile, coefficients, product] = arena.arrays;
    columnsOf(y, columns);
    squaredNorms(y, yNorms);
    coefficients.set(v.data);
    const depth = Math.min(m, Math.max(16, Math.floor(PANEL_VALUES / k)));
    const out = new Float64Array(n * k);
    for (let r0 = 0; r0 < n; r0 += tileRows) {
      const height = Math.min(tileRows, n - r0);
      const blocks = Math.ceil(height / ROW_BLOCK);
      rows.fill(0).set(x.data.subarray(r0 * d, (r0 + height) * d));
      for (let r = 0; r < height; r++) xNorms[r] = dot(x.data, (r0 + r) * d, (r0 + r) * d, d);
      // The tile's dot products x_r·y_j, then their Gaussian profile, then the tile times V (all of V in
      // the arena: its panels pass in one hand-off).
      const dots = { xa: addressOf(rows), xs: 8 * d, xk: 8, d, yt: addressOf(columns), ld: m, c: addressOf(tile), cs: 8 * m, firstRow: 0, symmetric: false, add: false };
      runRowBlocks(arena.kernels, arena, dots, 0, blocks);
      const ranges = balancedRanges(height, arena.threadCount);
      arena.run('gaussianCrossRows', ranges.map(([from, to]) => (to > from ? [addressOf(tile), m, addressOf(xNorms), addressOf(yNorms), m, from, to, gamma] : null)));
      const times = { xa: addressOf(tile), xs: 8 * m, xk: 8, d: m, yt: addressOf(coefficients), ld: k, c: addressOf(product), cs: 8 * k, firstRow: 0, symmetric: false, add: false, panelDepth: depth };
      runRowBlocks(arena.kernels, arena, times, 0, blocks);
      out.set(product.subarray(0, height * k), r0 * k);
    }
    return { rows: n, cols: k, data: out };
  } finally {
    arena.release();
  }
}
