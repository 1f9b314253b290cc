import { type Matrix, matmulMatrix, ShapeMismatchError } from '@kvkit/tensor-core';
import { addressOf, SimdArena } from '../wasm/simd-arena.js';

// Rows of A per call of the SIMD row-block kernel.
const ROW_BLOCK = 4;

/**
 * Right-multiplication by a fixed dense matrix B (inner × cols): returns `times(a)` = A·B for any
 * number of row blocks A. Where WebAssembly SIMD is available B is copied once into WebAssembly
 * memory and each four rows of A go through stored-kernel.wat's `rowBlockProducts` (B row-major
 * is the transposed layout that kernel reads), else tensor-core's `matmulMatrix`. Either way every
 * entry is Σ_k a_ik·b_kj summed in order k = 0, 1, … from zero: the same float64 values.
 */
export function rightMultiplier(b: Matrix): (a: Matrix) => Matrix {
  const { rows: inner, cols } = b;
  const arena = SimdArena.create([ROW_BLOCK * inner, inner * cols, ROW_BLOCK * cols]);
  if (!arena) return (a) => matmulMatrix(a, b);
  const [rows, bCopy, products] = arena.arrays;
  bCopy.set(b.data);
  const out = (r: number) => addressOf(products, r * cols);
  return (a) => {
    if (a.cols !== inner) {
      throw new ShapeMismatchError(`rightMultiplier: A has ${a.cols} columns but B has ${inner} rows`, { cols: a.cols, rows: inner });
    }
    const result = new Float64Array(a.rows * cols);
    for (let i0 = 0; i0 < a.rows; i0 += ROW_BLOCK) {
      const height = Math.min(ROW_BLOCK, a.rows - i0);
      // A short last block is padded with zero rows, whose products are dropped.
      if (height < ROW_BLOCK) rows.fill(0);
      rows.set(a.data.subarray(i0 * inner, (i0 + height) * inner));
      arena.kernels.rowBlockProducts(addressOf(rows), inner, addressOf(bCopy), cols, 0, cols, out(0), out(1), out(2), out(3));
      result.set(products.subarray(0, height * cols), i0 * cols);
    }
    return { rows: a.rows, cols, data: result };
  };
}
