// K stored whole in WebAssembly memory, multiplied in place: for solvers that multiply a kernel
// matrix that fits memory by a block of a few dozen vectors many times (randomized and dual KPCA).
// matmulMatrix would copy all of K into its scratch for every product; here K is written once,
// and each product only copies V in and K·V out.
import { addressOf, type LinearOperator, type Matrix, matmulMatrix, runRowBlocks, SimdArena } from '@kvkit/tensor-core';
import { gramRowMeans } from './centered.js';
import type { KernelMatrix } from './kernel-matrix.js';

/** Columns of V per pass of the row-block kernel (wider blocks go in chunks of this many). */
const CHUNK_COLUMNS = 32;
/** Values of V per panel of the row-block kernel (256 KiB, a core's L2), as matmulMatrix's panels. */
const PANEL_VALUES = 32768;

/** The operator K·V of a stored n × n K, its row means, and `release` (let the worker threads go). */
export interface StoredGram extends LinearOperator {
  readonly rowMeans: Float64Array;
  release(): void;
}

/**
 * K of a symmetric `operator` materialized once (its `toMatrix` values) in a threaded arena where
 * WebAssembly SIMD is available, else in a plain array multiplied by matmulMatrix.
 */
export function storedGram(operator: KernelMatrix): StoredGram {
  const n = operator.rows;
  // Three spare rows of K and of the product: a last block of four rows runs past row n.
  const arena = SimdArena.create([(n + 3) * n, n * CHUNK_COLUMNS, (n + 3) * CHUNK_COLUMNS], undefined, { threads: true });
  if (!arena) {
    const gram = operator.toMatrix();
    const multiply = (v: Matrix) => matmulMatrix(gram, v);
    return { rows: n, cols: n, multiply, multiplyTransposed: multiply, rowMeans: gramRowMeans(gram), release: () => {} };
  }
  const [gramValues, block, product] = arena.arrays;
  const gram = { rows: n, cols: n, data: gramValues.subarray(0, n * n) };
  operator.toMatrix(gram.data);
  const multiply = (v: Matrix): Matrix => {
    const k = v.cols;
    const out = new Float64Array(n * k);
    for (let c0 = 0; c0 < k; c0 += CHUNK_COLUMNS) {
      const width = Math.min(CHUNK_COLUMNS, k - c0);
      for (let i = 0; i < n; i++) block.set(v.data.subarray(i * k + c0, i * k + c0 + width), i * width);
      const job = { xa: addressOf(gramValues), xs: 8 * n, xk: 8, d: n, yt: addressOf(block), ld: width, c: addressOf(product), cs: 8 * width, firstRow: 0, symmetric: false, add: false, panelDepth: Math.max(16, Math.floor(PANEL_VALUES / width)) };
      runRowBlocks(arena.kernels, arena, job, 0, Math.ceil(n / 4));
      for (let i = 0; i < n; i++) out.set(product.subarray(i * width, (i + 1) * width), i * k + c0);
    }
    return { rows: n, cols: k, data: out };
  };
  return { rows: n, cols: n, multiply, multiplyTransposed: multiply, rowMeans: gramRowMeans(gram), release: () => arena.release() };
}
