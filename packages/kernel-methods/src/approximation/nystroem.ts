import { cholesky, createRng, eigvalsh, identityMatrix, InvalidConfigError, type Matrix, type Rng, solveTriangular, symmetricMatrixFunction } from '@kvkit/tensor-core';
import type { Kernel, KernelSpec } from '../kernels/kernel.js';
import { kernelFromJSON } from '../kernels/from-json.js';
import { crossProductAsync, crossProduct, isHostEngine } from '../operator/cross-product.js';
import { KernelMatrix, type KernelMatrixOptions, requireSynchronousEngine } from '../operator/kernel-matrix.js';
import { asPoints, type PointsInput, requireInteger, selectRows } from '../points.js';
import { addToDiagonal } from '../util/linalg.js';
import { type MatrixJSON, matrixFromJSON, matrixToJSON, requireFitted, requireModelTag } from '../util/serialization.js';

export type LandmarkSampling = 'uniform' | 'ridge-leverage';

export interface NystroemOptions extends KernelMatrixOptions {
  kernel: Kernel;
  /** Number of landmarks m (the feature dimension). */
  nComponents: number;
  /**
   * 'uniform' (default): m distinct points uniformly at random (scikit-learn's Nystroem);
   * 'ridge-leverage': points drawn with probability ∝ their approximate λ-ridge leverage score
   * (Alaoui & Mahoney 2015), estimated from a uniform pilot sample (Musco & Musco 2017, one level).
   */
  sampling?: LandmarkSampling;
  /**
   * λ of the ridge leverage scores. Default: the rank-m tail estimate of Musco & Musco,
   * λ = Σ_{i>m} λᵢ(K)/m, with K's spectrum estimated from the pilot sample (scaled by n/|S|).
   */
  ridge?: number;
  seed?: number;
}

export interface NystroemJSON {
  name: 'Nystroem';
  version: 1;
  kernel: KernelSpec;
  landmarks: MatrixJSON;
  indices: number[];
  normalization: MatrixJSON;
}

/**
 * The Nyström feature map (Williams & Seeger 2001): with landmarks C, φ(x) = k(x, C)·K_CC^{−1/2},
 * so φ(x)·φ(y) = k(x, C) K_CC⁺ k(C, y) approximates k(x, y). K_CC^{−1/2} comes from its
 * eigendecomposition with eigenvalues floored at 1e-12, as in scikit-learn.
 */
export class Nystroem {
  readonly kernel: Kernel;
  readonly nComponents: number;
  readonly sampling: LandmarkSampling;
  private readonly options: NystroemOptions;
  private landmarks?: Matrix;
  private normalization?: Matrix;
  /** Row indices of the landmarks in the fitted data. */
  componentIndices?: Int32Array;

  constructor(options: NystroemOptions) {
    if (!options?.kernel) throw new InvalidConfigError('Nystroem: a kernel is required');
    this.kernel = options.kernel;
    this.nComponents = requireInteger(options.nComponents, 1, Number.MAX_SAFE_INTEGER, 'Nystroem', 'nComponents');
    this.sampling = options.sampling ?? 'uniform';
    if (this.sampling !== 'uniform' && this.sampling !== 'ridge-leverage') {
      throw new InvalidConfigError(`Nystroem: sampling must be 'uniform' or 'ridge-leverage', got ${String(this.sampling)}`);
    }
    this.options = options;
  }

  /**
   * Chooses the landmarks (or takes `indices`) and forms K_CC^{−1/2} on the host in float64 (with a
   * synchronous backend engine such as 'cpu', ridge-leverage sampling's cross product runs there).
   */
  fit(points: PointsInput, fitOptions: { indices?: ArrayLike<number> } = {}): this {
    const x = asPoints(points, 'Nystroem.fit', { cols: this.kernel.inputDim });
    const indices = this.checkedIndices(x, fitOptions.indices, 'Nystroem.fit');
    if (!indices && this.sampling === 'ridge-leverage') requireSynchronousEngine(this.options.engine, 'Nystroem.fit (ridge-leverage)', 'fitAsync');
    return this.setLandmarks(x, indices ?? this.sampleIndices(x, (sketch) => crossProduct(this.kernel, x, sketch.sample, sketch.whitening, this.options)));
  }

  /**
   * `fit` with the kernel products on the `engine` backend (WebGPU, CUDA: read back asynchronously):
   * ridge-leverage sampling's n × |S| cross product K(x, S)·L⁻ᵀ runs there in f32; the small algebra
   * (K_SS's and K_CC's factorizations, the m×m matrices themselves) stays on the host in float64.
   * Uniform sampling needs no product, so there it is `fit`; with the host engine it is `fit`.
   */
  async fitAsync(points: PointsInput, fitOptions: { indices?: ArrayLike<number> } = {}): Promise<this> {
    const x = asPoints(points, 'Nystroem.fitAsync', { cols: this.kernel.inputDim });
    const indices = this.checkedIndices(x, fitOptions.indices, 'Nystroem.fitAsync');
    if (indices || this.sampling === 'uniform' || isHostEngine(this.options.engine)) return this.fit(x, fitOptions);
    const sketch = this.leverageSketch(x, createRng(this.options.seed ?? 0));
    const product = await crossProductAsync(this.kernel, x, sketch.sample, sketch.whitening, this.options);
    return this.setLandmarks(x, this.leverageIndices(sketch, product));
  }

  /**
   * φ(x) = k(x, C)·K_CC^{−1/2} (n × m). On the host: row tiles of k(x, C) in float64, each multiplied
   * by K_CC^{−1/2} as it is made (WebAssembly SIMD where available), so k(x, C) is never stored whole;
   * on a synchronous backend (engine 'cpu') the lazy operator's f32 product.
   */
  transform(points: PointsInput): Matrix {
    const landmarks = requireFitted(this.landmarks, 'Nystroem.transform');
    const x = asPoints(points, 'Nystroem.transform', { cols: landmarks.cols });
    requireSynchronousEngine(this.options.engine, 'Nystroem.transform', 'transformAsync');
    return crossProduct(this.kernel, x, landmarks, this.normalization as Matrix, this.options, 'host-coefficients');
  }

  /** `transform` with k(x, C) evaluated on the `engine` backend (f32, read back asynchronously), times K_CC^{−1/2} on the host in float64. */
  async transformAsync(points: PointsInput): Promise<Matrix> {
    const landmarks = requireFitted(this.landmarks, 'Nystroem.transformAsync');
    const x = asPoints(points, 'Nystroem.transformAsync', { cols: landmarks.cols });
    if (isHostEngine(this.options.engine)) return this.transform(x);
    return crossProductAsync(this.kernel, x, landmarks, this.normalization as Matrix, this.options, 'host-coefficients');
  }

  fitTransform(points: PointsInput): Matrix {
    return this.fit(points).transform(points);
  }

  /** The given landmark indices, checked (undefined when none were given). */
  private checkedIndices(x: Matrix, given: ArrayLike<number> | undefined, where: string): Int32Array | undefined {
    const m = this.nComponents;
    if (m > x.rows) throw new InvalidConfigError(`${where}: nComponents ${m} exceeds the ${x.rows} points`, { nComponents: m, points: x.rows });
    if (!given) return undefined;
    const indices = Int32Array.from(given);
    if (indices.length !== m || indices.some((i) => !(i >= 0 && i < x.rows)) || new Set(indices).size !== m) {
      throw new InvalidConfigError(`${where}: indices must be ${m} distinct row numbers in [0, ${x.rows})`);
    }
    return indices;
  }

  /** Sampled landmark indices; `crossProduct` computes ridge-leverage sampling's K(x, S)·L⁻ᵀ. */
  private sampleIndices(x: Matrix, crossProduct: (sketch: LeverageSketch) => Matrix): Int32Array {
    const rng = createRng(this.options.seed ?? 0);
    if (this.sampling === 'uniform') return uniformIndices(x.rows, this.nComponents, rng);
    const sketch = this.leverageSketch(x, rng);
    return this.leverageIndices(sketch, crossProduct(sketch));
  }

  /** Ridge leverage's pilot sample of max(2m, 50) points (at most n) and its factorization. */
  private leverageSketch(x: Matrix, rng: Rng): LeverageSketch {
    const pilot = Math.min(x.rows, Math.max(2 * this.nComponents, 50));
    return leverageSketch(this.kernel, x, pilot, this.options.ridge, rng, this.nComponents, this.options);
  }

  private leverageIndices(sketch: LeverageSketch, product: Matrix): Int32Array {
    return weightedWithoutReplacement(leverageFromProduct(sketch, product), this.nComponents, sketch.rng);
  }

  /** Stores the landmarks and K_CC^{−1/2} (K_CC evaluated on the host in float64). */
  private setLandmarks(x: Matrix, indices: Int32Array): this {
    const landmarks = selectRows(x, indices);
    this.landmarks = landmarks;
    this.componentIndices = indices;
    this.normalization = inverseSquareRoot(new KernelMatrix(this.kernel, landmarks, undefined, { tileSize: this.options.tileSize }).toMatrix());
    return this;
  }

  toJSON(): NystroemJSON {
    const landmarks = requireFitted(this.landmarks, 'Nystroem.toJSON');
    return {
      name: 'Nystroem',
      version: 1,
      kernel: this.kernel.toJSON(),
      landmarks: matrixToJSON(landmarks),
      indices: Array.from(this.componentIndices as Int32Array),
      normalization: matrixToJSON(this.normalization as Matrix),
    };
  }

  static load(json: NystroemJSON): Nystroem {
    requireModelTag(json, 'Nystroem');
    const landmarks = matrixFromJSON(json.landmarks, 'Nystroem', 'landmarks');
    const model = new Nystroem({ kernel: kernelFromJSON(json.kernel), nComponents: landmarks.rows });
    model.landmarks = landmarks;
    model.normalization = matrixFromJSON(json.normalization, 'Nystroem', 'normalization');
    model.componentIndices = Int32Array.from(json.indices);
    return model;
  }
}

/**
 * K^{−1/2} = U·diag(λ^{−1/2})·Uᵀ of a symmetric PSD matrix, its eigenvalues floored at 1e-12:
 * tensor-core's `symmetricMatrixFunction`, which sums it from the eigenvectors without sorting or
 * transposing them, as a symmetric product (exactly symmetric).
 */
export function inverseSquareRoot(k: Matrix): Matrix {
  return symmetricMatrixFunction(k, (value) => Math.max(value, 1e-12) ** -0.5);
}

/** m distinct indices uniformly at random (a partial Fisher–Yates shuffle). */
export function uniformIndices(n: number, m: number, rng: Rng): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, m);
}

/**
 * Approximate λ-ridge leverage scores ℓᵢ = (K(K + λI)⁻¹)ᵢᵢ from a uniform pilot sample S:
 * ℓ̃ᵢ = min(1, (k(xᵢ, xᵢ) − k_iSᵀ(K_SS + λI)⁻¹k_iS)/λ) (Musco & Musco 2017, Eq. 3, one level
 * instead of their recursion); then m distinct points drawn with probability ∝ ℓ̃ (successive sampling).
 * Computed on the host in float64 whatever `options.engine` is (Nystroem.fitAsync takes the device route).
 */
export function ridgeLeverageScores(
  kernel: Kernel,
  x: Matrix,
  pilot: number,
  ridge: number | undefined,
  rng: Rng,
  options: KernelMatrixOptions = {},
  rank = Math.max(1, Math.floor(pilot / 2)),
): Float64Array {
  const sketch = leverageSketch(kernel, x, pilot, ridge, rng, rank, options);
  return leverageFromProduct(sketch, crossProduct(kernel, x, sketch.sample, sketch.whitening, { tileSize: options.tileSize }));
}

/** What the scores need besides K(x, S)·L⁻ᵀ: the pilot sample S, L⁻ᵀ (LLᵀ = K_SS + λI), λ and k(xᵢ, xᵢ). */
interface LeverageSketch {
  sample: Matrix;
  whitening: Matrix;
  lambda: number;
  diagonal: Float64Array;
  rng: Rng;
}

function leverageSketch(kernel: Kernel, x: Matrix, pilot: number, ridge: number | undefined, rng: Rng, rank: number, options: KernelMatrixOptions): LeverageSketch {
  const sample = selectRows(x, uniformIndices(x.rows, Math.min(pilot, x.rows), rng));
  const diagonal = kernel.diagonal(x);
  const kss = new KernelMatrix(kernel, sample, undefined, { tileSize: options.tileSize }).toMatrix();
  const lambda = ridge ?? tailRidge(kss, rank, x.rows, diagonal);
  if (!(lambda > 0)) throw new InvalidConfigError(`ridge leverage: the ridge must be > 0, got ${lambda}`);
  const whitening = solveTriangular(cholesky(addToDiagonal(kss, lambda)), identityMatrix(sample.rows), { lower: true, transpose: true });
  return { sample, whitening, lambda, diagonal, rng };
}

/** Scores from the rows of K(x, S)·L⁻ᵀ, whose squared norms are k_iSᵀ(K_SS + λI)⁻¹k_iS. */
function leverageFromProduct(sketch: LeverageSketch, product: Matrix): Float64Array {
  const { diagonal, lambda } = sketch;
  const s = product.cols;
  const scores = new Float64Array(product.rows);
  for (let i = 0; i < product.rows; i++) {
    let q = 0;
    for (let t = 0; t < s; t++) q += product.data[i * s + t] ** 2;
    // A true leverage score is at most 1; points far from the pilot would otherwise get up to k(x, x)/λ.
    scores[i] = Math.min(Math.max((diagonal[i] - q) / lambda, 0), 1) + 1e-12;
  }
  return scores;
}

/** Σ_{i>rank} λᵢ(K)/rank, K's eigenvalues estimated from the pilot Gram (× n/|S|); floored for smooth kernels. */
function tailRidge(kss: Matrix, rank: number, n: number, diagonal: Float64Array): number {
  const values = eigvalsh(kss);
  let tail = 0;
  for (let i = rank; i < values.length; i++) tail += Math.max(values[i], 0);
  const meanDiagonal = diagonal.reduce((a, b) => a + b, 0) / n;
  return Math.max((tail * n) / kss.rows / rank, 1e-8 * meanDiagonal * n);
}

/** m distinct indices, each next one drawn with probability ∝ its weight among those left. */
export function weightedWithoutReplacement(weights: Float64Array, m: number, rng: Rng): Int32Array {
  // Efraimidis–Spirakis: keys u^{1/w}, keep the m largest.
  const keys = Array.from(weights, (w, i) => ({ i, key: Math.log(rng.uniform() || Number.MIN_VALUE) / w }));
  keys.sort((a, b) => b.key - a.key);
  return Int32Array.from(keys.slice(0, m), (k) => k.i);
}
