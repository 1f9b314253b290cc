import { cholesky, choleskySolve, createRng, eigh, InvalidConfigError, type Matrix, type RandomizedSvdOptions, randomizedSvd, randomizedSvdAsync } from '@kvkit/tensor-core';
import type { Kernel, KernelSpec } from '../kernels/kernel.js';
import { kernelFromJSON } from '../kernels/from-json.js';
import { centeredOperator, centerGram } from '../operator/centered.js';
import { type StoredGram, storedGram } from '../operator/stored-gram.js';
import {
  centeredPackedMatvec,
  materializeKernel,
  packedKernelFits,
  packedRowMeans,
  requirePackedKernelFits,
  type StoredKernelOptions,
} from '../operator/stored-kernel.js';
import { crossProduct, crossProductAsync, isHostEngine } from '../operator/cross-product.js';
import { KernelMatrix, type KernelMatrixOptions, requireSynchronousEngine } from '../operator/kernel-matrix.js';
import { asPoints, type PointsInput, requireInteger, requirePositive } from '../points.js';
import { lanczosLargest, lanczosLargestAsync } from '../util/lanczos.js';
import { centerColumns, scaleColumns } from '../util/linalg.js';
import { type MatrixJSON, matrixFromJSON, matrixToJSON, requireFitted, requireModelTag } from '../util/serialization.js';
import { type DualKpcaOptions, solveDualKpca } from './dual-kpca.js';

export type KpcaSolver = 'auto' | 'exact' | 'lanczos' | 'randomized' | 'dual';

export interface KernelPCAOptions extends KernelMatrixOptions, StoredKernelOptions {
  kernel: Kernel;
  nComponents: number;
  /**
   * Which eigensolver (scikit-learn's eigen_solver):
   * 'exact': full eigendecomposition of the stored centered Gram (O(n³) time, n×n memory);
   * 'lanczos': the centered Gram computed once into packed storage (n(n+1)/2 float64, within
   * `maxMemoryBytes`), then thick-restart Lanczos with full reorthogonalization (ARPACK's
   * approach): a few dozen O(n²) products; BudgetTooSmallError when K does not fit;
   * 'randomized': Halko–Martinsson–Tropp on the centered operator: K stored once as its packed
   * triangle (n(n+1)/2 float64, SIMD block products) while it fits `maxMemoryBytes`, above it lazy
   * (no n×n storage; every product evaluates the kernel again);
   * 'dual': the gradient-based dual solver with Moreau-envelope losses (see `dual`), on the same operator;
   * 'auto' (default): exact up to 200 points, lanczos while K fits `maxMemoryBytes`, randomized above.
   */
  solver?: KpcaSolver;
  /** Lanczos: residual tolerance ‖K y − θ y‖ ≤ tolerance·θ_max (default 1e-10; 1e-6 in `fitAsync` on a device engine, whose f32 products are exact to
   * ~1e-7) and Krylov basis size (default max(2k + 20, 60)). */
  tolerance?: number;
  basisSize?: number;
  /** Randomized solver: oversampling (default 10) and power iterations (default 4). */
  oversample?: number;
  powerIterations?: number;
  /** Dual solver options (loss 'square' | 'huber' | 'epsilon-insensitive', thresholds, tolerance). */
  dual?: DualKpcaOptions;
  /** Seed of the randomized and dual solvers (default 0). */
  seed?: number;
  /**
   * Learn a pre-image map (scikit-learn's fit_inverse_transform): kernel ridge regression from the
   * embedding back to the input space, with ridge `alpha` (and the same kernel on the embedding).
   */
  preimage?: { alpha: number };
}

/** A fitted KPCA as plain JSON (`toJSON()` / `KernelPCA.load`). */
export interface KernelPCAJSON {
  name: 'KernelPCA';
  version: 1;
  kernel: KernelSpec;
  nComponents: number;
  solver: KpcaSolver;
  x: MatrixJSON;
  eigenvalues: number[];
  /** n×k dual coefficients V/√λ. */
  alphas: MatrixJSON;
  rowMeans: number[];
  mean: number;
  preimage?: { alpha: number; embedding: MatrixJSON; dualCoef: MatrixJSON };
}

/**
 * Kernel principal component analysis (Schölkopf, Smola & Müller 1998) with scikit-learn's
 * conventions: eigenvalues of the centered Gram H K H (not divided by n), training embedding
 * V·√λ, new points projected with the training centering, eigenvector signs chosen so each
 * vector's largest component is positive.
 */
export class KernelPCA {
  readonly kernel: Kernel;
  readonly nComponents: number;
  readonly solver: KpcaSolver;
  private readonly options: KernelPCAOptions;
  private x?: Matrix;
  private alphas?: Matrix;
  private rowMeans?: Float64Array;
  private mean = 0;
  private preimageModel?: { alpha: number; embedding: Matrix; dualCoef: Matrix };
  /** Eigenvalues of the centered Gram matrix, descending (after fit). */
  eigenvalues?: Float64Array;
  /** Iterations of the last fit: dual-solver iterations, or the products Lanczos took. */
  iterations?: number;

  constructor(options: KernelPCAOptions) {
    if (!options?.kernel) throw new InvalidConfigError('KernelPCA: a kernel is required');
    this.kernel = options.kernel;
    this.nComponents = requireInteger(options.nComponents, 1, Number.MAX_SAFE_INTEGER, 'KernelPCA', 'nComponents');
    this.solver = options.solver ?? 'auto';
    if (!['auto', 'exact', 'lanczos', 'randomized', 'dual'].includes(this.solver)) {
      throw new InvalidConfigError(`KernelPCA: solver must be auto, exact, lanczos, randomized or dual, got ${String(this.solver)}`);
    }
    if (options.maxMemoryBytes !== undefined) requirePositive(options.maxMemoryBytes, 'KernelPCA', 'maxMemoryBytes', true);
    if (options.preimage) requirePositive(options.preimage.alpha, 'KernelPCA', 'preimage.alpha');
    this.options = options;
  }

  fit(points: PointsInput): this {
    const x = asPoints(points, 'KernelPCA.fit', { minRows: 2, cols: this.kernel.inputDim });
    const n = x.rows;
    const k = this.nComponents;
    if (k > n) throw new InvalidConfigError(`KernelPCA.fit: nComponents ${k} exceeds the ${n} points`, { nComponents: k, points: n });
    const solver = this.resolveSolver(n);
    let vectors: Matrix;
    let values: Float64Array;
    let rowMeans: Float64Array;
    let mean: number;
    if (solver === 'exact') {
      const centering = centerGram(new KernelMatrix(this.kernel, x, undefined, this.options).toMatrix());
      // Only the top k eigenvectors are carried back from the tridiagonal form (tensor-core's `count`).
      ({ vectors, values } = eigh(centering.centered, { order: 'descending', count: k }));
      ({ rowMeans, mean } = centering);
    } else if (solver === 'lanczos') {
      requirePackedKernelFits(n, this.options.maxMemoryBytes, 'KernelPCA.fit (lanczos)', "solver 'randomized'");
      const gram = materializeKernel(this.kernel, x);
      let result;
      try {
        ({ rowMeans, mean } = packedRowMeans(gram));
        const scratch = new Float64Array(n);
        result = lanczosLargest((v, out) => centeredPackedMatvec(gram, v, out, scratch), n, k, {
          tolerance: this.options.tolerance,
          basisSize: this.options.basisSize,
          seed: this.options.seed ?? 0,
          where: 'KernelPCA.fit (lanczos)',
        });
      } finally {
        gram.simd?.arena.dispose();
      }
      vectors = signByLargest(result.vectors);
      values = result.values;
      this.iterations = result.products;
    } else {
      requireSynchronousEngine(this.options.engine, `KernelPCA.fit (${solver})`, `fitAsync (solver '${solver === 'randomized' ? 'randomized' : 'lanczos'}')`);
      const operator = this.productOperator(x);
      try {
        rowMeans = operator.rowMeans;
        mean = rowMeans.reduce((a, b) => a + b, 0) / n;
        if (solver === 'randomized') {
          const result = randomizedSvd(centeredOperator(operator), k, this.randomizedOptions('KernelPCA.fit'));
          vectors = signByLargest(result.u);
          values = result.s;
        } else {
          const result = solveDualKpca(centeredOperator(operator), k, createRng(this.options.seed ?? 0), this.options.dual);
          vectors = signByLargest(result.vectors);
          values = result.values;
          this.iterations = result.iterations;
        }
      } finally {
        operator.dispose();
      }
    }
    return this.setFit(x, vectors, values, rowMeans, mean);
  }

  /**
   * `fit` with the kernel products on the `engine` backend (a WebGPU or CUDA backend, read back
   * asynchronously), on the lazy centered operator H K H, each product K·V built tile by tile on the
   * device in f32 (K is never stored), the solver's vectors on the host in float64:
   * 'auto' and 'lanczos' run thick-restart Lanczos; 'randomized' runs the host's randomized SVD
   * (same sketch from the same seed, same power iterations). 'exact' and 'dual' are refused
   * (InvalidConfigError). With the host engine it is `fit`.
   */
  async fitAsync(points: PointsInput): Promise<this> {
    const engine = this.options.engine ?? 'host';
    if (engine === 'host') return this.fit(points);
    const x = asPoints(points, 'KernelPCA.fitAsync', { minRows: 2, cols: this.kernel.inputDim });
    const n = x.rows;
    const k = this.nComponents;
    if (k > n) throw new InvalidConfigError(`KernelPCA.fitAsync: nComponents ${k} exceeds the ${n} points`, { nComponents: k, points: n });
    if (this.solver !== 'auto' && this.solver !== 'lanczos' && this.solver !== 'randomized') {
      throw new InvalidConfigError(`KernelPCA.fitAsync: on a device engine the solver is 'lanczos' (or 'auto') or 'randomized', got '${this.solver}'`, {
        solver: this.solver,
      });
    }
    const randomized = this.solver === 'randomized' ? this.randomizedOptions('KernelPCA.fitAsync') : undefined;
    const operator = new KernelMatrix(this.kernel, x, undefined, this.options);
    try {
      const rowMeans = (await operator.rowSumsAsync()).map((s) => s / n);
      const mean = rowMeans.reduce((a, b) => a + b, 0) / n;
      // H K H V = H (K (H V)): two centerings on the host around one device product.
      const centeredProduct = async (v: Matrix): Promise<Matrix> => centerColumns(await operator.multiplyAsync(centerColumns(v)));
      if (randomized) {
        // H K H is symmetric: its transposed product is the same product.
        const result = await randomizedSvdAsync({ rows: n, cols: n, multiply: centeredProduct, multiplyTransposed: centeredProduct }, k, randomized);
        return this.setFit(x, signByLargest(result.u), result.s, rowMeans, mean);
      }
      const result = await lanczosLargestAsync(async (v) => (await centeredProduct({ rows: n, cols: 1, data: v })).data, n, k, {
        tolerance: this.options.tolerance ?? 1e-6,
        basisSize: this.options.basisSize,
        seed: this.options.seed ?? 0,
        where: 'KernelPCA.fitAsync (lanczos)',
      });
      this.iterations = result.products;
      return this.setFit(x, signByLargest(result.vectors), result.values, rowMeans, mean);
    } finally {
      operator.dispose();
    }
  }

  /**
   * What the randomized and dual solvers multiply by: on the host engine, K stored once as its
   * packed triangle (n(n+1)/2 float64 in WebAssembly memory, each product on the worker threads;
   * `storedGram`) while that fits `maxMemoryBytes`; otherwise the lazy operator, which evaluates
   * the kernel in every product.
   */
  private productOperator(x: Matrix): StoredGram {
    const n = x.rows;
    if (isHostEngine(this.options.engine) && packedKernelFits(n, this.options.maxMemoryBytes)) return storedGram(this.kernel, x);
    const lazy = new KernelMatrix(this.kernel, x, undefined, this.options);
    return Object.assign(lazy, { rowMeans: lazy.rowSums().map((s) => s / n) });
  }

  /** The randomized solver's settings (oversample default 10, power iterations default 4, seed default 0), checked. */
  private randomizedOptions(where: string): RandomizedSvdOptions {
    return {
      oversample: requireInteger(this.options.oversample ?? 10, 0, Number.MAX_SAFE_INTEGER, where, 'oversample'),
      powerIterations: requireInteger(this.options.powerIterations ?? 4, 0, Number.MAX_SAFE_INTEGER, where, 'powerIterations'),
      seed: this.options.seed ?? 0,
    };
  }

  /** Stores a fit's eigenpairs (after checking they are positive) and the training centering. */
  private setFit(x: Matrix, vectors: Matrix, values: Float64Array, rowMeans: Float64Array, mean: number): this {
    const k = this.nComponents;
    for (let j = 0; j < k; j++) {
      if (!(values[j] > 0)) {
        throw new InvalidConfigError(
          `KernelPCA.fit: component ${j} has eigenvalue ${values[j]} <= 0 (the centered Gram has rank < ${k}); ask for fewer components`,
          { component: j, eigenvalue: values[j] },
        );
      }
    }
    this.x = x;
    this.eigenvalues = values;
    this.alphas = scaleColumns(vectors, Array.from(values, (v) => 1 / Math.sqrt(v)));
    this.rowMeans = rowMeans;
    this.mean = mean;
    if (this.options.preimage) {
      const embedding = scaleColumns(vectors, Array.from(values, Math.sqrt));
      this.preimageModel = { alpha: this.options.preimage.alpha, embedding, dualCoef: this.fitPreimage(embedding, x, this.options.preimage.alpha) };
    }
    return this;
  }

  /** The training points' embedding (n × nComponents): V·√λ. */
  fitTransform(points: PointsInput): Matrix {
    this.fit(points);
    const alphas = this.alphas as Matrix;
    return scaleColumns(alphas, Array.from(this.eigenvalues as Float64Array));
  }

  /** Projects new points: (centered k(x, X_train))·V/√λ, never storing the cross-kernel matrix. */
  transform(points: PointsInput): Matrix {
    const xTrain = requireFitted(this.x, 'KernelPCA.transform');
    const x = asPoints(points, 'KernelPCA.transform', { cols: xTrain.cols });
    requireSynchronousEngine(this.options.engine, 'KernelPCA.transform', 'transformAsync');
    return this.centeredProjection(crossProduct(this.kernel, x, xTrain, this.augmentedAlphas(), this.options));
  }

  /**
   * `transform` with the cross products K(x, X_train)·[V/√λ | 1] on the `engine` backend (f32, read
   * back asynchronously); the centering stays on the host in float64. With the host engine it is `transform`.
   */
  async transformAsync(points: PointsInput): Promise<Matrix> {
    const xTrain = requireFitted(this.x, 'KernelPCA.transformAsync');
    const x = asPoints(points, 'KernelPCA.transformAsync', { cols: xTrain.cols });
    if (isHostEngine(this.options.engine)) return this.transform(x);
    return this.centeredProjection(await crossProductAsync(this.kernel, x, xTrain, this.augmentedAlphas(), this.options));
  }

  /**
   * Pre-images of embedded points (scikit-learn's inverse_transform): the kernel ridge regression
   * from the training embedding to the training points, learned at fit time with `preimage.alpha`.
   */
  inverseTransform(embedding: PointsInput): Matrix {
    const model = this.preimageModel;
    if (!model) throw new InvalidConfigError('KernelPCA.inverseTransform: fit with the `preimage: { alpha }` option to learn the pre-image map');
    const z = asPoints(embedding, 'KernelPCA.inverseTransform', { cols: this.nComponents });
    return new KernelMatrix(this.kernel, z, model.embedding).multiply(model.dualCoef);
  }

  toJSON(): KernelPCAJSON {
    const x = requireFitted(this.x, 'KernelPCA.toJSON');
    const json: KernelPCAJSON = {
      name: 'KernelPCA',
      version: 1,
      kernel: this.kernel.toJSON(),
      nComponents: this.nComponents,
      solver: this.solver,
      x: matrixToJSON(x),
      eigenvalues: Array.from(this.eigenvalues as Float64Array),
      alphas: matrixToJSON(this.alphas as Matrix),
      rowMeans: Array.from(this.rowMeans as Float64Array),
      mean: this.mean,
    };
    if (this.preimageModel) {
      json.preimage = { alpha: this.preimageModel.alpha, embedding: matrixToJSON(this.preimageModel.embedding), dualCoef: matrixToJSON(this.preimageModel.dualCoef) };
    }
    return json;
  }

  static load(json: KernelPCAJSON): KernelPCA {
    requireModelTag(json, 'KernelPCA');
    const model = new KernelPCA({ kernel: kernelFromJSON(json.kernel), nComponents: json.nComponents, solver: json.solver });
    model.x = matrixFromJSON(json.x, 'KernelPCA', 'x');
    model.alphas = matrixFromJSON(json.alphas, 'KernelPCA', 'alphas');
    model.eigenvalues = Float64Array.from(json.eigenvalues);
    model.rowMeans = Float64Array.from(json.rowMeans);
    model.mean = json.mean;
    if (json.preimage) {
      model.preimageModel = {
        alpha: json.preimage.alpha,
        embedding: matrixFromJSON(json.preimage.embedding, 'KernelPCA', 'preimage.embedding'),
        dualCoef: matrixFromJSON(json.preimage.dualCoef, 'KernelPCA', 'preimage.dualCoef'),
      };
    }
    return model;
  }

  /** [A | 1] (n × (k + 1)): one cross product gives the projections and the new rows' kernel sums. */
  private augmentedAlphas(): Matrix {
    const alphas = this.alphas as Matrix;
    const { rows: n, cols: k } = alphas;
    const augmented = new Float64Array(n * (k + 1));
    for (let i = 0; i < n; i++) {
      augmented.set(alphas.data.subarray(i * k, (i + 1) * k), i * (k + 1));
      augmented[i * (k + 1) + k] = 1;
    }
    return { rows: n, cols: k + 1, data: augmented };
  }

  /**
   * The projections from K(x, X_train)·[A | 1]: K(x, X)·A centered with the training centering,
   * + (mean − newRowMean_i)·Σ_i A − rowMeansᵀA per row (the expansion of H' K(x, X) H A).
   */
  private centeredProjection(both: Matrix): Matrix {
    const alphas = this.alphas as Matrix;
    const { rows: n, cols: k } = alphas;
    const rowMeans = this.rowMeans as Float64Array;
    const meanProjection = new Float64Array(k);
    const sumProjection = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < k; j++) {
        meanProjection[j] += rowMeans[i] * alphas.data[i * k + j];
        sumProjection[j] += alphas.data[i * k + j];
      }
    }
    const out = new Float64Array(both.rows * k);
    for (let i = 0; i < both.rows; i++) {
      const newRowMean = both.data[i * (k + 1) + k] / n;
      for (let j = 0; j < k; j++) out[i * k + j] = both.data[i * (k + 1) + j] + (-meanProjection[j] + (this.mean - newRowMean) * sumProjection[j]);
    }
    return { rows: both.rows, cols: k, data: out };
  }

  /** The solver a fit of n points runs: 'auto' resolved by size and the memory budget. */
  resolveSolver(n: number): Exclude<KpcaSolver, 'auto'> {
    if (this.solver !== 'auto') return this.solver;
    if (n <= 200) return 'exact';
    return packedKernelFits(n, this.options.maxMemoryBytes) ? 'lanczos' : 'randomized';
  }

  private fitPreimage(embedding: Matrix, x: Matrix, alpha: number): Matrix {
    const gram = new KernelMatrix(this.kernel, embedding).toMatrix();
    return choleskySolve(cholesky(gram, { jitter: alpha }), x);
  }
}

/** Flips each column so its largest-magnitude entry is positive (the convention of eigh and scikit-learn). */
function signByLargest(m: Matrix): Matrix {
  const out = Float64Array.from(m.data);
  for (let j = 0; j < m.cols; j++) {
    let best = 0;
    let sign = 1;
    for (let i = 0; i < m.rows; i++) {
      const v = out[i * m.cols + j];
      if (Math.abs(v) > best) {
        best = Math.abs(v);
        sign = v < 0 ? -1 : 1;
      }
    }
    if (sign < 0) for (let i = 0; i < m.rows; i++) out[i * m.cols + j] = -out[i * m.cols + j];
  }
  return { rows: m.rows, cols: m.cols, data: out };
}
