import { createRng, InvalidConfigError, type Matrix, qr, type Rng } from '@kvkit/tensor-core';
import { kernelFromJSON } from '../kernels/from-json.js';
import type { Kernel } from '../kernels/kernel.js';
import { asPoints, type PointsInput, requireInteger } from '../points.js';
import { type MatrixJSON, matrixFromJSON, matrixToJSON, requireFitted, requireModelTag } from '../util/serialization.js';

export interface RandomFourierFeaturesOptions {
  /**
   * A shift-invariant kernel with a known spectral density: rbf (Gaussian frequencies), laplace
   * (Cauchy per coordinate), matern (multivariate Student t with 2ν degrees of freedom).
   */
  kernel: Kernel;
  /** Number of features D. */
  nComponents: number;
  /**
   * Orthogonal random features (Yu et al. 2016): frequency directions in blocks of d orthogonal
   * vectors, lengths drawn from the spectral density's radial law; lower variance for radial
   * kernels (rbf, matern). Default false.
   */
  orthogonal?: boolean;
  seed?: number;
}

export interface RandomFourierFeaturesJSON {
  name: 'RandomFourierFeatures';
  version: 1;
  kernel: ReturnType<Kernel['toJSON']>;
  orthogonal: boolean;
  weights: MatrixJSON;
  offsets: number[];
}

/**
 * Random Fourier features (Rahimi & Recht 2007) in scikit-learn's RBFSampler form:
 * z(x) = √(2/D)·cos(Wx + b), W's rows drawn from the kernel's spectral density, b uniform on
 * [0, 2π), so z(x)·z(y) ≈ k(x, y) for shift-invariant kernels normalized to k(x, x) = 1.
 */
export class RandomFourierFeatures {
  readonly kernel: Kernel;
  readonly nComponents: number;
  readonly orthogonal: boolean;
  private readonly seed: number;
  private weights?: Matrix; // D × d
  private offsets?: Float64Array;

  constructor(options: RandomFourierFeaturesOptions) {
    if (!options?.kernel) throw new InvalidConfigError('RandomFourierFeatures: a kernel is required');
    this.kernel = options.kernel;
    if (!['rbf', 'laplace', 'matern'].includes(this.kernel.name)) {
      throw new InvalidConfigError(`RandomFourierFeatures: no spectral sampler for the "${this.kernel.name}" kernel; supported: rbf, laplace, matern`);
    }
    this.nComponents = requireInteger(options.nComponents, 1, Number.MAX_SAFE_INTEGER, 'RandomFourierFeatures', 'nComponents');
    this.orthogonal = options.orthogonal ?? false;
    if (this.orthogonal && this.kernel.name === 'laplace') {
      throw new InvalidConfigError('RandomFourierFeatures: orthogonal features need a radial kernel (rbf, matern); the L1 Laplace kernel is not radial');
    }
    this.seed = options.seed ?? 0;
  }

  /** Draws the frequencies for inputs of the points' dimension (only the dimension is used). */
  fit(points: PointsInput): this {
    const x = asPoints(points, 'RandomFourierFeatures.fit');
    const rng = createRng(this.seed);
    const d = x.cols;
    const D = this.nComponents;
    this.weights = this.orthogonal ? orthogonalFrequencies(this.kernel, D, d, rng) : iidFrequencies(this.kernel, D, d, rng);
    this.offsets = Float64Array.from({ length: D }, () => 2 * Math.PI * rng.uniform());
    return this;
  }

  transform(points: PointsInput): Matrix {
    const w = requireFitted(this.weights, 'RandomFourierFeatures.transform');
    const x = asPoints(points, 'RandomFourierFeatures.transform', { cols: w.cols });
    const D = w.rows;
    const d = w.cols;
    const b = this.offsets as Float64Array;
    const scale = Math.sqrt(2 / D);
    const out = new Float64Array(x.rows * D);
    for (let i = 0; i < x.rows; i++) {
      for (let f = 0; f < D; f++) {
        let s = b[f];
        for (let k = 0; k < d; k++) s += w.data[f * d + k] * x.data[i * d + k];
        out[i * D + f] = scale * Math.cos(s);
      }
    }
    return { rows: x.rows, cols: D, data: out };
  }

  fitTransform(points: PointsInput): Matrix {
    return this.fit(points).transform(points);
  }

  toJSON(): RandomFourierFeaturesJSON {
    const weights = requireFitted(this.weights, 'RandomFourierFeatures.toJSON');
    return { name: 'RandomFourierFeatures', version: 1, kernel: this.kernel.toJSON(), orthogonal: this.orthogonal, weights: matrixToJSON(weights), offsets: Array.from(this.offsets as Float64Array) };
  }

  static load(json: RandomFourierFeaturesJSON): RandomFourierFeatures {
    requireModelTag(json, 'RandomFourierFeatures');
    const weights = matrixFromJSON(json.weights, 'RandomFourierFeatures', 'weights');
    const model = new RandomFourierFeatures({ kernel: kernelFromJSON(json.kernel), nComponents: weights.rows, orthogonal: json.orthogonal });
    model.weights = weights;
    model.offsets = Float64Array.from(json.offsets);
    return model;
  }
}

/** One frequency vector ω ∈ R^d from the kernel's spectral density. */
function sampleFrequency(kernel: Kernel, d: number, rng: Rng, out: Float64Array, offset: number): void {
  if (kernel.name === 'rbf') {
    // exp(−γ‖t‖²) ↔ N(0, 2γ I).
    const s = Math.sqrt(2 * (kernel.params.gamma as number));
    for (let k = 0; k < d; k++) out[offset + k] = s * rng.normal();
  } else if (kernel.name === 'laplace') {
    // exp(−γ|t|) per coordinate ↔ Cauchy(0, γ) per coordinate.
    const g = kernel.params.gamma as number;
    for (let k = 0; k < d; k++) out[offset + k] = g * Math.tan(Math.PI * (rng.uniform() - 0.5));
  } else {
    // Matérn(ν, ℓ) ↔ multivariate t with 2ν degrees of freedom and scale I/ℓ²: g·√(2ν/χ²_{2ν})/ℓ.
    const nu = kernel.params.nu as number;
    const l = kernel.params.lengthScale as number;
    const s = Math.sqrt((2 * nu) / (2 * gammaVariate(nu, rng))) / l;
    for (let k = 0; k < d; k++) out[offset + k] = s * rng.normal();
  }
}

function iidFrequencies(kernel: Kernel, D: number, d: number, rng: Rng): Matrix {
  const out = new Float64Array(D * d);
  for (let f = 0; f < D; f++) sampleFrequency(kernel, d, rng, out, f * d);
  return { rows: D, cols: d, data: out };
}

/**
 * Blocks of d orthonormal directions (Q of a Gaussian matrix's QR), each scaled by the length of an
 * independent draw from the spectral density, so every ω keeps the right marginal law while
 * directions within a block are orthogonal.
 */
function orthogonalFrequencies(kernel: Kernel, D: number, d: number, rng: Rng): Matrix {
  const out = new Float64Array(D * d);
  const draw = new Float64Array(d);
  for (let start = 0; start < D; start += d) {
    const gaussian = Float64Array.from({ length: d * d }, () => rng.normal());
    const q = qr({ rows: d, cols: d, data: gaussian }).q; // columns orthonormal
    for (let f = start; f < Math.min(start + d, D); f++) {
      sampleFrequency(kernel, d, rng, draw, 0);
      let norm = 0;
      for (let k = 0; k < d; k++) norm += draw[k] * draw[k];
      norm = Math.sqrt(norm);
      const col = f - start;
      for (let k = 0; k < d; k++) out[f * d + k] = norm * q.data[k * d + col];
    }
  }
  return { rows: D, cols: d, data: out };
}

/** Gamma(shape, 1) variate (Marsaglia & Tsang 2000; shape < 1 by the u^{1/shape} boost). */
export function gammaVariate(shape: number, rng: Rng): number {
  if (shape < 1) return gammaVariate(shape + 1, rng) * rng.uniform() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}
