import { type Matrix, matmul, mul, pow, reshape, rsqrt, type Tensor, unary } from '@kvkit/tensor-core';
import { requireInteger, requirePositive } from '../points.js';
import { withTensorScope } from '../util/tensor-scope.js';
import { innerProducts, rowSquaredNorms } from './distances.js';
import type { Kernel, KernelSpec } from './kernel.js';

function dotKernel(
  name: string,
  params: Record<string, number>,
  f: (dot: number) => number,
  tensorF: (dot: Tensor, track: <T extends Tensor>(t: T) => T) => Tensor,
): Kernel {
  return {
    name,
    params,
    evaluate(x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
      innerProducts(x, y, out, rowStart, rowEnd, colStart, colEnd);
      const length = (rowEnd - rowStart) * (colEnd - colStart);
      for (let i = 0; i < length; i++) out[i] = f(out[i]);
    },
    diagonal(x: Matrix): Float64Array {
      const out = new Float64Array(x.rows);
      for (let i = 0; i < x.rows; i++) {
        let s = 0;
        for (let k = 0; k < x.cols; k++) s += x.data[i * x.cols + k] ** 2;
        out[i] = f(s);
      }
      return out;
    },
    tensorBlock(x: Tensor, y: Tensor): Tensor {
      return withTensorScope((track) => tensorF(track(matmul(x, y, { transposeB: true })), track));
    },
    toJSON: (): KernelSpec => ({ name, params: { ...params } }),
  };
}

/** k(x, y) = x · y. */
export function linear(): Kernel {
  return dotKernel('linear', {}, (d) => d, (d) => unary('affine', d, { alpha: 1, beta: 0 }));
}

export interface PolynomialOptions {
  /** Degree (integer >= 1, default 3). */
  degree?: number;
  /** Scale γ of the inner product (default 1). */
  gamma?: number;
  /** Offset c₀ >= 0 (default 1). */
  coef0?: number;
}

/** k(x, y) = (γ·x·y + c₀)^degree, scikit-learn's `polynomial_kernel`. */
export function poly(options: PolynomialOptions = {}): Kernel {
  const degree = requireInteger(options.degree ?? 3, 1, 64, 'poly', 'degree');
  const g = requirePositive(options.gamma ?? 1, 'poly', 'gamma');
  const c0 = requirePositive(options.coef0 ?? 1, 'poly', 'coef0', true);
  return dotKernel(
    'poly',
    { degree, gamma: g, coef0: c0 },
    (d) => (g * d + c0) ** degree,
    (d, track) => pow(track(unary('affine', d, { alpha: g, beta: c0 })), degree),
  );
}

/**
 * k(x, y) = x·y / (‖x‖‖y‖), scikit-learn's `cosine_similarity`; a zero row has similarity 0 with
 * everything (scikit-learn's convention).
 */
export function cosine(): Kernel {
  const normalized = (x: Matrix): Matrix => {
    const out = Float64Array.from(x.data);
    for (let i = 0; i < x.rows; i++) {
      let s = 0;
      for (let k = 0; k < x.cols; k++) s += out[i * x.cols + k] ** 2;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let k = 0; k < x.cols; k++) out[i * x.cols + k] *= inv;
    }
    return { rows: x.rows, cols: x.cols, data: out };
  };
  // Normalized copies are cached per input matrix: tiles of one operator reuse them.
  const cache = new WeakMap<Matrix, Matrix>();
  const unit = (x: Matrix): Matrix => {
    let u = cache.get(x);
    if (!u) cache.set(x, (u = normalized(x)));
    return u;
  };
  return {
    name: 'cosine',
    params: {},
    evaluate(x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
      innerProducts(unit(x), unit(y), out, rowStart, rowEnd, colStart, colEnd);
    },
    diagonal(x: Matrix): Float64Array {
      const u = unit(x);
      const out = new Float64Array(x.rows);
      for (let i = 0; i < x.rows; i++) out[i] = u.data[i * x.cols] === 0 && isZeroRow(u, i) ? 0 : 1;
      return out;
    },
    tensorBlock(x: Tensor, y: Tensor): Tensor {
      return withTensorScope((track) => {
        const dots = track(matmul(x, y, { transposeB: true }));
        const ix = track(rsqrt(track(rowSquaredNorms(x, track))));
        const iy = track(reshape(track(rsqrt(track(rowSquaredNorms(y, track)))), [1, y.shape[0]]));
        return mul(track(mul(dots, ix)), iy);
      });
    },
    toJSON: (): KernelSpec => ({ name: 'cosine', params: {} }),
  };
}

function isZeroRow(m: Matrix, i: number): boolean {
  for (let k = 0; k < m.cols; k++) if (m.data[i * m.cols + k] !== 0) return false;
  return true;
}
