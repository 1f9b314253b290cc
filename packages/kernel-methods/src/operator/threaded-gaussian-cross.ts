// K(x, y)·V, or k(x, y) itself, for a Gaussian kernel with every step split among tensor-core's
// worker threads, in one shared arena: a tile of kernel rows (its dot products by the row-block
// kernel, then the Gaussian profile), then the tile times V (or copied out). Before, the kernel rows
// ran on one thread while the other waited, and each tile's product copied V into matmulMatrix's scratch.
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
  const m = y.rows;
  const k = v.cols;
  if (m * k > MAX_V_VALUES || x.rows * m * (x.cols + k) < THREADED_MIN_WORK) return null;
  const out = new Float64Array(x.rows * k);
  const depth = Math.min(m, Math.max(16, Math.floor(PANEL_VALUES / k)));
  const done = gaussianTiles(kernel, x, y, false, [m * k, TILE_ROWS * k], ([coefficients]) => coefficients.set(v.data), (arena, tile, r0, height, [coefficients, product]) => {
    // The tile times V (all of V in the arena: its panels pass in one hand-off).
    const times = { xa: addressOf(tile), xs: 8 * m, xk: 8, d: m, yt: addressOf(coefficients), ld: k, c: addressOf(product), cs: 8 * k, firstRow: 0, symmetric: false, add: false, panelDepth: depth };
    runRowBlocks(arena.kernels, arena, times, 0, Math.ceil(height / ROW_BLOCK));
    out.set(product.subarray(0, height * k), r0 * k);
  });
  return done ? { rows: x.rows, cols: k, data: out } : null;
}

/**
 * k(x, y) itself (x.rows × y.rows, into `out`) for a Gaussian `kernel` on the worker threads: the
 * tiles of threadedGaussianCrossProduct copied out instead of multiplied. False where the threads
 * are not to be had or the work is too small (the caller's loop then runs); the same values as
 * radialCrossRows.
 */
export function threadedGaussianRows(kernel: RadialKernel, x: Matrix, y: Matrix, out: Float64Array): boolean {
  const m = y.rows;
  if (x.rows * m * x.cols < THREADED_MIN_WORK) return false;
  return gaussianTiles(kernel, x, y, false, [], () => {}, (_arena, tile, r0, height) => out.set(tile.subarray(0, height * m), r0 * m));
}

/**
 * The lower triangle of K(x, x) (diagonal included) into the n × n `out`, the entries above the
 * diagonal left as they are: what a Cholesky factorization reads, at half the dot products and
 * Gaussian profiles of `threadedGaussianRows`. False where the threads are not to be had or the work
 * is too small (the caller's loop then runs).
 */
export function threadedGaussianLowerRows(kernel: RadialKernel, x: Matrix, out: Float64Array): boolean {
  const n = x.rows;
  if ((n * n * x.cols) / 2 < THREADED_MIN_WORK) return false;
  return gaussianTiles(kernel, x, x, true, [], () => {}, (_arena, tile, r0, height) => {
    for (let r = 0; r < height; r++) out.set(tile.subarray(r * n, r * n + r0 + r + 1), (r0 + r) * n);
  });
}

/**
 * Tiles of TILE_ROWS kernel rows of a Gaussian `kernel` in one shared arena, each split among the
 * worker threads (dot products by the row-block kernel, then the Gaussian profile), handed to
 * `visit` with the arena and the `extra` areas (filled once by `setup`); with `lower` (y is x) only
 * each row's entries up to the diagonal are computed. False, having visited nothing, where the
 * threads or SIMD are not to be had or the kernel is not Gaussian.
 */
function gaussianTiles(
  kernel: RadialKernel,
  x: Matrix,
  y: Matrix,
  lower: boolean,
  extra: number[],
  setup: (areas: Float64Array[]) => void,
  visit: (arena: SimdArena, tile: Float64Array, r0: number, height: number, areas: Float64Array[]) => void,
): boolean {
  const gamma = kernel.gaussianGamma;
  const n = x.rows;
  const d = x.cols;
  const m = y.rows;
  if (gamma === undefined || simdThreadCount() < 2) return false;
  const tileRows = Math.min(TILE_ROWS, ROW_BLOCK * Math.ceil(n / ROW_BLOCK));
  // A short last block of four reads (and writes) up to three rows past the tile: padding rows.
  const arena = SimdArena.create([tileRows * d, d * m, m, tileRows, tileRows * m, ...extra], { threads: true });
  if (!arena?.threads) {
    arena?.dispose();
    return false;
  }
  try {
    const [rows, columns, yNorms, xNorms, tile, ...areas] = arena.arrays;
    columnsOf(y, columns);
    squaredNorms(y, yNorms);
    setup(areas);
    for (let r0 = 0; r0 < n; r0 += tileRows) {
      const height = Math.min(tileRows, n - r0);
      const blocks = Math.ceil(height / ROW_BLOCK);
      rows.fill(0).set(x.data.subarray(r0 * d, (r0 + height) * d));
      for (let r = 0; r < height; r++) xNorms[r] = dot(x.data, (r0 + r) * d, (r0 + r) * d, d);
      // The tile's dot products x_r·y_j (a lower triangle: block b up to column r0 + 4b + 4), then
      // their Gaussian profile (a lower triangle: row r up to column r0 + r).
      const dots = { xa: addressOf(rows), xs: 8 * d, xk: 8, d, yt: addressOf(columns), ld: m, c: addressOf(tile), cs: 8 * m, firstRow: lower ? r0 : 0, symmetric: false, lower, add: false };
      runRowBlocks(arena.kernels, arena, dots, 0, blocks);
      const ranges = balancedRanges(height, arena.threadCount);
      const diagonal = lower ? r0 : m;
      arena.run('gaussianCrossRows', ranges.map(([from, to]) => (to > from ? [addressOf(tile), m, addressOf(xNorms), addressOf(yNorms), m, diagonal, from, to, gamma] : null)));
      visit(arena, tile, r0, height, areas);
    }
    return true;
  } finally {
    arena.dispose();
  }
}
