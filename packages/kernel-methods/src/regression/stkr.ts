import { cholesky, choleskySolve, InvalidConfigError, type Matrix, matmulMatrix, randomizedSvd } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { KernelMatrix, type KernelMatrixOptions } from '../operator/kernel-matrix.js';
import { asPoints, asTargets, type PointsInput, requireInteger, requirePositive } from '../points.js';
import { addToDiagonal, conjugateGradient, scaleColumns } from '../util/linalg.js';
import { requireFitted } from '../util/serialization.js';

export interface StkrOptions extends KernelMatrixOptions {
  kernel: Kernel;
  /** Ridge α of (K_s,ll + αI)c = y (default 1e-3). */
  alpha?: number;
  /**
   * The spectral transform s(λ):
   * - { polynomial: [π₁, …, π_q] }: s(λ) = Σ π_p λ^p (known transform; π_p >= 0);
   * - { kpca: d }: s(λ) = λ on the top-d eigenvalues, 0 beyond (unknown transform, STKR with KPCA).
   */
  transform: { polynomial: readonly number[] } | { kpca: number };
  /** CG tolerance for the polynomial transform (default 1e-8). */
  tolerance?: number;
  maxIterations?: number;
  seed?: number;
}

/**
 * Spectrally transformed kernel regression (Zhai et al., "Spectrally Transformed Kernel
 * Regression", ICLR 2024): the base kernel's integral operator over labeled + unlabeled points,
 * (Tf)(x) = (1/n)Σⱼ k(x, xⱼ)f(xⱼ), is transformed to s(T), whose kernel k_s is smoother along the
 * data's geometry, and KRR runs with k_s on the labeled points. Inductive: predictions at new
 * points need only k(x, ·) against the stored points.
 * - Polynomial s: k_s(x, x′) = π₁k(x, x′) + Σ_{p≥2} π_p·k(x, X)(K/n)^{p−2}k(X, x′)/n, applied
 *   through lazy kernel products (never forming K^p), and solved by CG.
 * - KPCA s: k_s(x, x′) = φ(x)·φ(x′) with φ the top-d kernel principal features (uncentered) of
 *   all points, i.e. ridge regression on those features.
 */
export class SpectrallyTransformedKernelRegression {
  readonly kernel: Kernel;
  readonly alpha: number;
  private readonly options: StkrOptions;
  private all?: Matrix;
  private labeled?: Matrix;
  private coefficients?: Matrix;
  private propagated?: Matrix;
  private featureMap?: { basis: Matrix; weights: Matrix };

  constructor(options: StkrOptions) {
    if (!options?.kernel) throw new InvalidConfigError('STKR: a kernel is required');
    this.kernel = options.kernel;
    this.alpha = requirePositive(options.alpha ?? 1e-3, 'STKR', 'alpha');
    const t = options.transform as { polynomial?: readonly number[]; kpca?: number };
    if (t?.polynomial) {
      if (t.polynomial.length < 1 || t.polynomial.some((v) => !(v >= 0)) || !t.polynomial.some((v) => v > 0)) {
        throw new InvalidConfigError('STKR: polynomial coefficients must be >= 0, at least one > 0');
      }
    } else if (t?.kpca === undefined) {
      throw new InvalidConfigError("STKR: transform must be { polynomial: [...] } or { kpca: d }");
    }
    this.options = options;
  }

  /** `labeled` with `targets`, plus `unlabeled` points that only shape the kernel. */
  fit(labeledPoints: PointsInput, targets: ArrayLike<number> | Matrix, unlabeledPoints?: PointsInput): this {
    const xl = asPoints(labeledPoints, 'STKR.fit', { minRows: 1 });
    const y = asTargets(targets, xl.rows, 'STKR.fit');
    const xu = unlabeledPoints === undefined ? undefined : asPoints(unlabeledPoints, 'STKR.fit', { cols: xl.cols });
    const n = xl.rows + (xu?.rows ?? 0);
    const all: Matrix = { rows: n, cols: xl.cols, data: new Float64Array(n * xl.cols) };
    all.data.set(xl.data);
    if (xu) all.data.set(xu.data, xl.data.length);
    this.all = all;
    this.labeled = xl;
    const t = this.options.transform as { polynomial?: readonly number[]; kpca?: number };
    if (t.polynomial) this.fitPolynomial(t.polynomial, xl, y, all);
    else this.fitKpca(requireInteger(t.kpca as number, 1, n, 'STKR', 'kpca'), xl, y, all);
    return this;
  }

  predict(points: PointsInput): Matrix {
    const all = requireFitted(this.all, 'STKR.predict');
    const x = asPoints(points, 'STKR.predict', { cols: all.cols });
    if (this.featureMap) {
      const features = new KernelMatrix(this.kernel, x, all, this.options).multiply(this.featureMap.basis);
      return matmulMatrix(features, this.featureMap.weights);
    }
    const pi = (this.options.transform as { polynomial: readonly number[] }).polynomial;
    const direct = new KernelMatrix(this.kernel, x, this.labeled as Matrix, this.options).multiply(this.coefficients as Matrix);
    const out = direct.data.map((v) => pi[0] * v);
    if (pi.length > 1) {
      const through = new KernelMatrix(this.kernel, x, all, this.options).multiply(this.propagated as Matrix);
      for (let i = 0; i < out.length; i++) out[i] += through.data[i];
    }
    return { rows: x.rows, cols: direct.cols, data: out };
  }

  /** u = Σ_{p≥2} π_p (K/n)^{p−2} K_{X,l} c / n: what a coefficient vector c becomes through the unlabeled geometry. */
  private propagate(pi: readonly number[], kAll: KernelMatrix, kAllLabeled: KernelMatrix, c: Matrix): Matrix {
    const n = kAll.rows;
    let power = kAllLabeled.multiply(c); // K_{X,l} c
    for (let i = 0; i < power.data.length; i++) power.data[i] /= n;
    const u = new Float64Array(power.data.length);
    for (let p = 2; p <= pi.length; p++) {
      if (p > 2) {
        power = kAll.multiply(power);
        for (let i = 0; i < power.data.length; i++) power.data[i] /= n;
      }
      for (let i = 0; i < u.length; i++) u[i] += pi[p - 1] * power.data[i];
    }
    return { rows: power.rows, cols: power.cols, data: u };
  }

  private fitPolynomial(pi: readonly number[], xl: Matrix, y: Matrix, all: Matrix): void {
    const kAll = new KernelMatrix(this.kernel, all, undefined, this.options);
    const kLabeled = new KernelMatrix(this.kernel, xl, undefined, this.options);
    const kAllLabeled = new KernelMatrix(this.kernel, all, xl, this.options);
    const alpha = this.alpha;
    // (K_s,ll + αI)c with K_s,ll c = π₁K_ll c + K_{l,X} u(c).
    const apply = (c: Matrix): Matrix => {
      const out = kLabeled.multiply(c).data.map((v, i) => pi[0] * v + alpha * c.data[i]);
      if (pi.length > 1) {
        const through = kAllLabeled.multiplyTransposed(this.propagate(pi, kAll, kAllLabeled, c));
        for (let i = 0; i < out.length; i++) out[i] += through.data[i];
      }
      return { rows: c.rows, cols: c.cols, data: out };
    };
    const result = conjugateGradient(apply, y, { tolerance: this.options.tolerance ?? 1e-8, maxIterations: this.options.maxIterations ?? 2000, where: 'STKR.fit' });
    this.coefficients = result.x;
    this.propagated = pi.length > 1 ? this.propagate(pi, kAll, kAllLabeled, result.x) : undefined;
    this.featureMap = undefined;
  }

  private fitKpca(d: number, xl: Matrix, y: Matrix, all: Matrix): void {
    const kAll = new KernelMatrix(this.kernel, all, undefined, this.options);
    const { u, s } = randomizedSvd(kAll, d, { seed: this.options.seed ?? 0, powerIterations: 4 });
    for (let j = 0; j < d; j++) if (!(s[j] > 0)) throw new InvalidConfigError(`STKR: eigenvalue ${j} of the kernel matrix is ${s[j]}; use fewer components`);
    // φ(x) = k(x, X)·V·Λ^{−1/2}, so φ(X) = VΛ^{1/2} and φ(X)φ(X)ᵀ is K's rank-d truncation.
    const basis = scaleColumns(u, Array.from(s, (v) => 1 / Math.sqrt(v)));
    const phi = new KernelMatrix(this.kernel, xl, all, this.options).multiply(basis);
    const gram = addToDiagonal(matmulMatrix(phi, phi, { transposeA: true }), this.alpha);
    const weights = choleskySolve(cholesky(gram), matmulMatrix(phi, y, { transposeA: true }));
    this.featureMap = { basis, weights };
  }
}
