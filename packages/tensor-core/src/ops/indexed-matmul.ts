import { InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { type ProductSums, productDType, withProductOperands } from './matmul.js';
import { assertDTypeIn, assertFloat, assertIndicesInRange, assertRank } from './validate.js';

export interface IndexedMatmulOptions {
  /** How the CPU sums each dot product, as in `matmul` ('f64' default, or 'f32'). Other backends sum in f32. */
  accumulate?: ProductSums;
}

export interface IndexedMatmulAttrs {
  rows: number;
  /** Output columns: rows of each stacked matrix. */
  n: number;
  /** Inner dimension: x's columns, each stacked matrix's columns. */
  k: number;
  /** How many matrices are stacked. */
  count: number;
  accumulate: ProductSums;
}

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    indexedMatmul: { inputs: [Tensor, Tensor, Tensor]; attrs: IndexedMatmulAttrs; output: Tensor };
  }
}

/**
 * Row i of the result is x[i] · weights[indices[i]]ᵀ: a linear layer chosen per row from a stack
 * of them, in the layout of Hugging Face linear weights. This is the expert product of a
 * mixture-of-experts block: each (token, chosen expert) pair is one row, and only the chosen
 * experts' weights are read, wherever the choice was computed (the indices may stay on the device).
 *
 * x [rows, k], weights [count, n, k], indices i32/u32 [rows] → [rows, n]. Each row has the values
 * `matmul(x[i], weights[e], { transposeB: true })` would give it. Weights may be f16/bf16 beside an
 * f32 x (read in place on the CPU, widened to a temporary elsewhere, as `matmul` does).
 */
export function indexedMatmul(x: Tensor, weights: Tensor, indices: Tensor, options: IndexedMatmulOptions = {}): Tensor {
  const where = 'indexedMatmul';
  assertFloat(x, where, 'x');
  assertFloat(weights, where, 'weights');
  const dtype = productDType(x, weights, where);
  assertRank(x, 2, where, 'x');
  assertRank(weights, 3, where, 'weights');
  assertRank(indices, 1, where, 'indices');
  assertDTypeIn(indices, ['i32', 'u32'], where, 'indices');
  const [rows, k] = x.shape;
  const [count, n, kw] = weights.shape;
  if (kw !== k) {
    throw new ShapeMismatchError(`${where}: x ${formatShape(x.shape)} has ${k} columns but each of weights ${formatShape(weights.shape)} has ${kw}`, {
      x: x.shape,
      weights: weights.shape,
    });
  }
  if (indices.shape[0] !== rows) {
    throw new ShapeMismatchError(`${where}: x has ${rows} rows but indices has ${indices.shape[0]} entries; give one matrix index per row`, {
      rows,
      indices: indices.shape,
    });
  }
  const accumulate = options.accumulate ?? 'f64';
  if (accumulate !== 'f64' && accumulate !== 'f32') throw new InvalidConfigError(`${where}: accumulate must be 'f64' or 'f32', got ${String(accumulate)}`);
  assertIndicesInRange(indices, count, where);
  const attrs = { rows, n, k, count, accumulate };
  return withProductOperands(x, weights, dtype, (a, b) => runKernel('indexedMatmul', [a, b, indices], attrs));
}
