import { add, InvalidConfigError, type Matrix, mul, type Tensor } from '@kvkit/tensor-core';
import { requirePositive } from '../points.js';
import { withTensorScope } from '../util/tensor-scope.js';
import type { Kernel, KernelSpec } from './kernel.js';
import { matern, rbf } from './radial.js';

/**
 * Σ wᵢ·kᵢ(x, y) (positive weights): KT+ thins with the sum of the target kernel and its power
 * kernel.
 */
export function sumKernel(kernels: readonly Kernel[], weights?: readonly number[]): Kernel {
  if (kernels.length < 1) throw new InvalidConfigError('sumKernel: needs at least one kernel');
  const w = weights ?? kernels.map(() => 1);
  if (w.length !== kernels.length) throw new InvalidConfigError(`sumKernel: ${w.length} weights for ${kernels.length} kernels`);
  w.forEach((v, i) => requirePositive(v, 'sumKernel', `weights[${i}]`));
  const tensorCapable = kernels.every((k) => k.tensorBlock);
  return {
    name: 'sum',
    params: { kernels: kernels.map((k) => k.toJSON()), weights: [...w] },
    evaluate(x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
      const length = (rowEnd - rowStart) * (colEnd - colStart);
      const part = new Float64Array(length);
      out.fill(0, 0, length);
      kernels.forEach((k, idx) => {
        k.evaluate(x, y, part, rowStart, rowEnd, colStart, colEnd);
        for (let i = 0; i < length; i++) out[i] += w[idx] * part[i];
      });
    },
    diagonal(x: Matrix): Float64Array {
      const out = new Float64Array(x.rows);
      kernels.forEach((k, idx) => k.diagonal(x).forEach((v, i) => (out[i] += w[idx] * v)));
      return out;
    },
    tensorBlock: tensorCapable
      ? (x: Tensor, y: Tensor): Tensor =>
          withTensorScope((track) => {
            let total = track(mul(track(blockOf(kernels[0], x, y)), w[0]));
            for (let i = 1; i < kernels.length; i++) {
              const term = track(mul(track(blockOf(kernels[i], x, y)), w[i]));
              total = i === kernels.length - 1 ? add(total, term) : track(add(total, term));
            }
            return kernels.length === 1 ? add(total, 0) : total;
          })
      : undefined,
    toJSON(): KernelSpec {
      return { name: 'sum', params: this.params };
    },
  };
}

function blockOf(kernel: Kernel, x: Tensor, y: Tensor): Tensor {
  return (kernel as Required<Pick<Kernel, 'tensorBlock'>>).tensorBlock(x, y);
}

/**
 * Product of one-dimensional Matérn kernels over the coordinates, Π_k m_ν(|x_k − y_k|; ℓ): the
 * fractional powers of the (L1) Laplace kernel take this form.
 */
export function productMatern(options: { nu: number; lengthScale: number }): Kernel {
  const oneDim = matern(options);
  const params = { nu: oneDim.params.nu as number, lengthScale: oneDim.params.lengthScale as number };
  return {
    name: 'productMatern',
    params,
    evaluate(x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
      const d = x.cols;
      const width = colEnd - colStart;
      for (let i = rowStart; i < rowEnd; i++) {
        for (let j = colStart; j < colEnd; j++) {
          let value = 1;
          for (let k = 0; k < d; k++) {
            const diff = x.data[i * d + k] - y.data[j * y.cols + k];
            value *= oneDim.profile(diff * diff);
          }
          out[(i - rowStart) * width + j - colStart] = value;
        }
      }
    },
    diagonal: (x: Matrix) => new Float64Array(x.rows).fill(1),
    toJSON: (): KernelSpec => ({ name: 'productMatern', params }),
  };
}

/**
 * The α-power kernel of generalized kernel thinning (Dwivedi & Mackey): the kernel whose Fourier
 * transform is the α-th power of k's, normalized to k(x, x) = 1. α = 1/2 is the square-root kernel.
 * - rbf(γ): rbf(γ/α);
 * - matern(ν, ℓ) in `dim` dimensions: matern(ν′ = α(ν + d/2) − d/2, ℓ·√(ν′/ν)), needs ν′ > 0;
 * - laplace(γ) (L1): Π_k one-dimensional matern(ν′ = α − 1/2, ℓ = √(2ν′)/γ), needs α > 1/2.
 */
export function powerKernel(kernel: Kernel, alpha: number, dim: number): Kernel {
  if (!(alpha > 0 && alpha <= 1)) throw new InvalidConfigError(`powerKernel: alpha must be in (0, 1], got ${alpha}`, { alpha });
  if (!Number.isInteger(dim) || dim < 1) throw new InvalidConfigError(`powerKernel: dim must be an integer >= 1, got ${dim}`);
  if (alpha === 1) return kernel;
  switch (kernel.name) {
    case 'rbf':
      return rbf({ gamma: (kernel.params.gamma as number) / alpha });
    case 'matern': {
      const nu = kernel.params.nu as number;
      const powered = alpha * (nu + dim / 2) - dim / 2;
      if (!(powered > 0)) {
        throw new InvalidConfigError(
          `powerKernel: the ${alpha}-power of Matérn ν=${nu} in ${dim} dimensions has smoothness ${powered} <= 0; use alpha > ${dim / (2 * nu + dim)}`,
          { alpha, nu, dim },
        );
      }
      return matern({ nu: powered, lengthScale: (kernel.params.lengthScale as number) * Math.sqrt(powered / nu) });
    }
    case 'laplace': {
      const powered = alpha - 0.5;
      if (!(powered > 0)) throw new InvalidConfigError(`powerKernel: the Laplace kernel's α-power needs alpha > 1/2, got ${alpha}`, { alpha });
      return productMatern({ nu: powered, lengthScale: Math.sqrt(2 * powered) / (kernel.params.gamma as number) });
    }
    default:
      throw new InvalidConfigError(`powerKernel: no closed-form power of the "${kernel.name}" kernel; supported: rbf, matern, laplace`, {
        kernel: kernel.name,
      });
  }
}
