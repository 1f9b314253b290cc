import { cholesky, choleskySolve, createRng, eigh, InvalidConfigError, matmulMatrix, type Matrix, type Rng } from '@kvkit/tensor-core';
import type { Kernel, KernelSpec } from '../kernels/kernel.js';
import { kernelFromJSON } from '../kernels/from-json.js';
import { KernelMatrix, type KernelMatrixOptions } from '../operator/kernel-matrix.js';
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

  /** Chooses the landmarks (or takes `indices`) and forms K_CC^{−1/2}. */
  fit(points: PointsInput, fitOptions: { indices?: ArrayLike<number> } = {}): this {
    const x = asPoints(points, 'Nystroem.fit', { cols: this.kernel.inputDim });
    const m = this.nComponents;
    if (m > x.rows) throw new InvalidConfigError(`Nystroem.fit: nComponents ${m} exceeds the ${x.rows} points`, { nComponents: m, points: x.rows });
    let indices: Int32Array;
    if (fitOptions.indices) {
      indices = Int32Array.from(fitOptions.indices);
      if (indices.length !== m || indices.some((i) => !(i >= 0 && i < x.rows)) || new Set(indices).size !== m) {
        throw new InvalidConfigError(`Nystroem.fit: indices must be ${m} distinct row numbers in [0, ${x.rows})`);
      }
    } else {
      const rng = createRng(this.options.seed ?? 0);
      indices = this.sampling === 'uniform' ? uniformIndices(x.rows, m, rng) : ridgeLeverageIndices(this.kernel, x, m, this.options.ridge, rng, this.options);
    }
    const landmarks = selectRows(x, indices);
    this.landmarks = landmarks;
    this.componentIndices = indices;
    this.normalization = inverseSquareRoot(new KernelMatrix(this.kernel, landmarks, undefined, this.options).toMatrix());
    return this;
  }

  /** φ(x) = k(x, C)·K_CC^{−1/2} (n × m). */
  transform(points: PointsInput): Matrix {
    const landmarks = requireFitted(this.landmarks, 'Nystroem.transform');
    const x = asPoints(points, 'Nystroem.transform', { cols: landmarks.cols });
    const cross = new KernelMatrix(this.kernel, x, landmarks, this.options).toMatrix();
    return matmulMatrix(cross, this.normalization as Matrix);
  }

  fitTransform(points: PointsInput): Matrix {
    return this.fit(points).transform(points);
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

/** K^{−1/2} of a symmetric PSD matrix (eigenvalues floored at 1e-12), symmetric. */
export function inverseSquareRoot(k: Matrix): Matrix {
  const { values, vectors } = eigh(k);
  const m = k.rows;
  const scaled = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) scaled[i * m + j] = vectors.data[i * m + j] / Math.sqrt(Math.max(values[j], 1e-12));
  return matmulMatrix({ rows: m, cols: m, data: scaled }, vectors, { transposeB: true });
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
  const sample = selectRows(x, uniformIndices(x.rows, Math.min(pilot, x.rows), rng));
  const diagonal = kernel.diagonal(x);
  const kss = new KernelMatrix(kernel, sample, undefined, options).toMatrix();
  const lambda = ridge ?? tailRidge(kss, rank, x.rows, diagonal);
  if (!(lambda > 0)) throw new InvalidConfigError(`ridge leverage: the ridge must be > 0, got ${lambda}`);
  const factor = cholesky(addToDiagonal(kss, lambda));
  const cross = new KernelMatrix(kernel, sample, x, options).toMatrix(); // |S| × n
  const solved = choleskySolve(factor, cross);
  const scores = new Float64Array(x.rows);
  const s = sample.rows;
  for (let i = 0; i < x.rows; i++) {
    let q = 0;
    for (let t = 0; t < s; t++) q += cross.data[t * x.rows + i] * solved.data[t * x.rows + i];
    // A true leverage score is at most 1; points far from the pilot would otherwise get up to k(x, x)/λ.
    scores[i] = Math.min(Math.max((diagonal[i] - q) / lambda, 0), 1) + 1e-12;
  }
  return scores;
}

/** Σ_{i>rank} λᵢ(K)/rank, K's eigenvalues estimated from the pilot Gram (× n/|S|); floored for smooth kernels. */
function tailRidge(kss: Matrix, rank: number, n: number, diagonal: Float64Array): number {
  const values = eigh(kss).values;
  let tail = 0;
  for (let i = rank; i < values.length; i++) tail += Math.max(values[i], 0);
  const meanDiagonal = diagonal.reduce((a, b) => a + b, 0) / n;
  return Math.max((tail * n) / kss.rows / rank, 1e-8 * meanDiagonal * n);
}

function ridgeLeverageIndices(kernel: Kernel, x: Matrix, m: number, ridge: number | undefined, rng: Rng, options: KernelMatrixOptions): Int32Array {
  const scores = ridgeLeverageScores(kernel, x, Math.min(x.rows, Math.max(2 * m, 50)), ridge, rng, options, m);
  return weightedWithoutReplacement(scores, m, rng);
}

/** m distinct indices, each next one drawn with probability ∝ its weight among those left. */
export function weightedWithoutReplacement(weights: Float64Array, m: number, rng: Rng): Int32Array {
  // Efraimidis–Spirakis: keys u^{1/w}, keep the m largest.
  const keys = Array.from(weights, (w, i) => ({ i, key: Math.log(rng.uniform() || Number.MIN_VALUE) / w }));
  keys.sort((a, b) => b.key - a.key);
  return Int32Array.from(keys.slice(0, m), (k) => k.i);
}
