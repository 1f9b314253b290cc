// K stored once as its packed upper triangle in WebAssembly memory and multiplied in place: the
// operator of solvers that multiply K by a block of a few dozen vectors many times (randomized and
// dual KPCA). Each product reads every stored value once and uses it for two entries of the
// product (`packedBlockRows`), so the matrix takes half the memory of a full copy at about the same
// cost per product (measured against a full n² copy multiplied by the row-block kernel: 0.7–1.0×
// the speed per product, 1.5–2× faster to store).
import type { LinearOperator, Matrix } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { MAX_PRODUCT_COLUMNS, materializeKernel, packedMultiply, packedRowMeans } from './stored-kernel.js';

/** The operator K·V of a stored n × n K, its row means, and `dispose` (done with it: its memory goes back for reuse). */
export interface StoredGram extends LinearOperator {
  readonly rowMeans: Float64Array;
  dispose(): void;
}

/** K(x, x) materialized once (`materializeKernel`, packed) as an operator for blocks of vectors. */
export function storedGram(kernel: Kernel, x: Matrix): StoredGram {
  // The solvers' blocks are at most this wide in one pass (wider ones take several).
  const packed = materializeKernel(kernel, x, { productColumns: MAX_PRODUCT_COLUMNS });
  const multiply = (v: Matrix): Matrix => packedMultiply(packed, v);
  const n = x.rows;
  return { rows: n, cols: n, multiply, multiplyTransposed: multiply, rowMeans: packedRowMeans(packed).rowMeans, dispose: () => packed.simd?.arena.dispose() };
}
