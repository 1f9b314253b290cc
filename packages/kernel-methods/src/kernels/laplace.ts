import { abs, exp, expandDims, type Matrix, sub, sum, type Tensor, unary } from '@kvkit/tensor-core';
import { requirePositive } from '../points.js';
import { withTensorScope } from '../util/tensor-scope.js';
import { manhattanDistances } from './distances.js';
import type { Kernel, KernelSpec } from './kernel.js';

export interface LaplaceOptions {
  /** k = exp(−γ‖x − y‖₁) (default γ = 1). */
  gamma?: number;
}

/**
 * The Laplace kernel exp(−γ‖x − y‖₁) on the L1 distance (scikit-learn's `laplacian_kernel`): a
 * product of one-dimensional exponential kernels, whose spectral density is a product of Cauchy
 * densities (its random features). For the Euclidean variant use `matern({ nu: 0.5 })`.
 */
export function laplace(options: LaplaceOptions = {}): Kernel {
  const g = requirePositive(options.gamma ?? 1, 'laplace', 'gamma');
  return {
    name: 'laplace',
    params: { gamma: g },
    evaluate(x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
      manhattanDistances(x, y, out, rowStart, rowEnd, colStart, colEnd);
      const length = (rowEnd - rowStart) * (colEnd - colStart);
      for (let i = 0; i < length; i++) out[i] = Math.exp(-g * out[i]);
    },
    diagonal: (x: Matrix) => new Float64Array(x.rows).fill(1),
    tensorBlock(x: Tensor, y: Tensor): Tensor {
      // |x_i − y_j| summed over features through a [bx, by, d] broadcast (tiles keep it small).
      return withTensorScope((track) => {
        const diff = track(sub(track(expandDims(x, 1)), track(expandDims(y, 0))));
        const l1 = track(sum(track(abs(diff)), { axes: 2 }));
        return exp(track(unary('affine', l1, { alpha: -g, beta: 0 })));
      });
    },
    toJSON: (): KernelSpec => ({ name: 'laplace', params: { gamma: g } }),
  };
}
