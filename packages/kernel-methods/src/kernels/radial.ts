import { add, exp, InvalidConfigError, type Matrix, mul, pow, sqrt, type Tensor, unary } from '@kvkit/tensor-core';
import { requirePositive } from '../points.js';
import { withTensorScope } from '../util/tensor-scope.js';
import { squaredDistances, squaredDistanceTensor } from './distances.js';
import type { KernelSpec, RadialKernel } from './kernel.js';
import { type DeviceProfile, PROFILE_CODE } from './device-profile.js';
import { besselK, gamma } from './special-functions.js';

type Track = <T extends Tensor>(t: T) => T;

/** Shared machinery of kernels k(x, y) = f(‖x − y‖²): block evaluation, diagonal, JSON. */
class RadialKernelImpl implements RadialKernel {
  readonly radial = true as const;
  constructor(
    readonly name: string,
    readonly params: Readonly<Record<string, number>>,
    readonly profile: (squaredDistance: number) => number,
    private readonly tensorProfile?: (squaredDistance: Tensor, track: Track) => Tensor,
    readonly profileDerivatives?: (squaredDistance: number) => [number, number, number],
    readonly gaussianGamma?: number,
    /** The profile as the fused device product (operator/device-radial-product.ts) evaluates it. */
    readonly deviceProfile?: DeviceProfile,
  ) {
    if (!tensorProfile) this.tensorBlock = undefined;
  }

  evaluate(x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
    squaredDistances(x, y, out, rowStart, rowEnd, colStart, colEnd);
    const length = (rowEnd - rowStart) * (colEnd - colStart);
    const f = this.profile;
    for (let i = 0; i < length; i++) out[i] = f(out[i]);
  }

  diagonal(x: Matrix): Float64Array {
    return new Float64Array(x.rows).fill(this.profile(0));
  }

  tensorBlock?(x: Tensor, y: Tensor): Tensor {
    const tensorProfile = this.tensorProfile as (s: Tensor, track: Track) => Tensor;
    return withTensorScope((track) => tensorProfile(track(squaredDistanceTensor(x, y)), track));
  }

  toJSON(): KernelSpec {
    return { name: this.name, params: { ...this.params } };
  }
}

export interface RbfOptions {
  /** k = exp(−γ‖x − y‖²). Give either gamma or bandwidth. */
  gamma?: number;
  /** σ with k = exp(−‖x − y‖² / (2σ²)), e.g. from `medianBandwidth(x)`. */
  bandwidth?: number;
}

/** The Gaussian (RBF) kernel exp(−γ‖x − y‖²), scikit-learn's `rbf_kernel`. */
export function rbf(options: RbfOptions = {}): RadialKernel {
  const g = resolveGamma(options, 'rbf');
  return new RadialKernelImpl(
    'rbf',
    { gamma: g },
    (s) => Math.exp(-g * s),
    (s, track) => exp(track(unary('affine', s, { alpha: -g, beta: 0 }))),
    (s) => {
      const f = Math.exp(-g * s);
      return [f, -g * f, g * g * f];
    },
    g,
    { code: PROFILE_CODE.rbf, a: g, b: 0 },
  );
}

function resolveGamma(options: RbfOptions, where: string): number {
  if (options.gamma !== undefined && options.bandwidth !== undefined) {
    throw new InvalidConfigError(`${where}: give gamma or bandwidth, not both`);
  }
  if (options.bandwidth !== undefined) return 1 / (2 * requirePositive(options.bandwidth, where, 'bandwidth') ** 2);
  return requirePositive(options.gamma ?? 1, where, 'gamma');
}

export interface MaternOptions {
  /** Smoothness ν > 0: 0.5 (exponential), 1.5, 2.5 have closed forms; any other uses K_ν. Default 1.5. */
  nu?: number;
  /** Length scale ℓ > 0 (default 1). */
  lengthScale?: number;
}

/**
 * The Matérn kernel (2^{1−ν}/Γ(ν))·z^ν·K_ν(z) with z = √(2ν)·‖x − y‖/ℓ (scikit-learn's
 * `gaussian_process.kernels.Matern`); ν = 1/2 is the Euclidean Laplace kernel exp(−‖x − y‖/ℓ).
 */
export function matern(options: MaternOptions = {}): RadialKernel {
  const nu = requirePositive(options.nu ?? 1.5, 'matern', 'nu');
  const l = requirePositive(options.lengthScale ?? 1, 'matern', 'lengthScale');
  const params = { nu, lengthScale: l };
  if (nu === 0.5) {
    return new RadialKernelImpl('matern', params, (s) => Math.exp(-Math.sqrt(s) / l), (s, track) =>
      exp(track(unary('affine', track(sqrt(s)), { alpha: -1 / l, beta: 0 }))),
      undefined,
      undefined,
      { code: PROFILE_CODE.matern05, a: 1 / l, b: 0 },
    );
  }
  if (nu === 1.5) {
    const a = Math.sqrt(3) / l;
    return new RadialKernelImpl(
      'matern',
      params,
      (s) => {
        const z = a * Math.sqrt(s);
        return (1 + z) * Math.exp(-z);
      },
      (s, track) => {
        const z = track(unary('affine', track(sqrt(s)), { alpha: a, beta: 0 }));
        return mul(track(unary('affine', z, { alpha: 1, beta: 1 })), track(exp(track(unary('neg', z)))));
      },
      // With z = a√s: f′ = −(a²/2)e^{−z} and f″ = a³e^{−z}/(4√s), unbounded at s = 0 (ν = 3/2 is
      // only once differentiable in s there; the KSD Stein kernel needs ν ≥ 5/2 or rbf/imq).
      (s) => {
        const r = Math.sqrt(s);
        const e = Math.exp(-a * r);
        const f = (1 + a * r) * e;
        const f1 = -0.5 * a * a * e;
        const f2 = r > 0 ? (a * a * a * e) / (4 * r) : Infinity;
        return [f, f1, f2];
      },
      undefined,
      { code: PROFILE_CODE.matern15, a, b: 0 },
    );
  }
  if (nu === 2.5) {
    const a = Math.sqrt(5) / l;
    return new RadialKernelImpl(
      'matern',
      params,
      (s) => {
        const z = a * Math.sqrt(s);
        return (1 + z + (z * z) / 3) * Math.exp(-z);
      },
      (s, track) => {
        const z = track(unary('affine', track(sqrt(s)), { alpha: a, beta: 0 }));
        const z2 = track(unary('affine', track(mul(z, z)), { alpha: 1 / 3, beta: 1 }));
        return mul(track(add(z, z2)), track(exp(track(unary('neg', z)))));
      },
      (s) => {
        const r = Math.sqrt(s);
        const e = Math.exp(-a * r);
        const z = a * r;
        const f = (1 + z + (z * z) / 3) * e;
        const f1 = (-(a * a) / 6) * (1 + z) * e;
        const f2 = (a ** 4 / 12) * e;
        return [f, f1, f2];
      },
      undefined,
      { code: PROFILE_CODE.matern25, a, b: 0 },
    );
  }
  const c = 2 ** (1 - nu) / gamma(nu);
  const a = Math.sqrt(2 * nu) / l;
  return new RadialKernelImpl('matern', params, (s) => {
    if (s === 0) return 1;
    const z = a * Math.sqrt(s);
    // z^ν·K_ν(z) with K scaled by e^z to avoid underflow, then e^{−z} applied in log space.
    const value = c * Math.exp(nu * Math.log(z) - z) * besselK(nu, z, true);
    return value > 1 ? 1 : value;
  });
}

export interface ImqOptions {
  /** Offset c > 0 (default 1). */
  c?: number;
  /** Exponent β > 0 (default 1/2): k = (c² + ‖x − y‖²)^{−β}. */
  beta?: number;
}

/** The inverse multiquadric kernel (c² + ‖x − y‖²)^{−β} (the usual KSD kernel, Gorham & Mackey 2017). */
export function imq(options: ImqOptions = {}): RadialKernel {
  const c = requirePositive(options.c ?? 1, 'imq', 'c');
  const beta = requirePositive(options.beta ?? 0.5, 'imq', 'beta');
  const c2 = c * c;
  return new RadialKernelImpl(
    'imq',
    { c, beta },
    (s) => (c2 + s) ** -beta,
    (s, track) => pow(track(unary('affine', s, { alpha: 1, beta: c2 })), -beta),
    (s) => {
      const u = c2 + s;
      return [u ** -beta, -beta * u ** (-beta - 1), beta * (beta + 1) * u ** (-beta - 2)];
    },
    undefined,
    { code: PROFILE_CODE.imq, a: c2, b: beta },
  );
}
