import { add, matmul, reshape, type Tensor, type TensorScope } from '@kvkit/tensor-core';
import type { LinearWeights } from './weights.js';

/**
 * The model's products sum in f32, as PyTorch and the GPU backends do: on the CPU that is about
 * twice the float64 sums' speed over several rows (prefill), and the values still do not depend on
 * the number of rows (tensor-core's `accumulate`).
 */
export const PRODUCT_SUMS = 'f32';
const PRODUCT = { transposeB: true, accumulate: PRODUCT_SUMS } as const;

/**
 * x · Wᵀ (+ b), HF `nn.Linear`. A single row (decode) is computed as W · xᵀ instead: the same dot
 * products, but each loaded x value then feeds several weight rows at once, which doubles the CPU
 * matmul rate for matrix-vector products; [out, 1] and [1, out] share one memory layout.
 */
export function linear(x: Tensor, w: LinearWeights, scope: TensorScope): Tensor {
  const y =
    x.shape[0] === 1
      ? scope.track(reshape(scope.track(matmul(w.weight, x, PRODUCT)), [1, w.weight.shape[0]]))
      : scope.track(matmul(x, w.weight, PRODUCT));
  return w.bias ? scope.track(add(y, w.bias)) : y;
}
