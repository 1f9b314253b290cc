import { createRng, InvalidConfigError, type Matrix, positiveDefiniteSolve } from '@kvkit/tensor-core';
import { type LandmarkSampling, ridgeLeverageScores, uniformIndices, weightedWithoutReplacement } from '../approximation/nystroem.js';
import type { Kernel, KernelSpec } from '../kernels/kernel.js';
import { kernelFromJSON } from '../kernels/from-json.js';
import {
  type StoredKernelOptions,
  materializeKernel,
  packedDiagonal,
  packedKernelFits,
  packedMultiply,
  productColumnsFor,
  packedRow,
  requirePackedKernelFits,
  rowOffset,
} from '../operator/stored-kernel.js';
import { crossProduct, crossProductAsync, isHostEngine } from '../operator/cross-product.js';
import { KernelMatrix, type KernelMatrixOptions, requireSynchronousEngine } from '../operator/kernel-matrix.js';
import { asPoints, asTargets, type PointsInput, requireInteger, requirePositive, selectRows } from '../points.js';
import { type ConjugateGradientOptions, conjugateGradient, conjugateGradientAsync } from '../util/linalg.js';
import { lowRankPlusShiftInverse, pivotedCholesky } from '../util/pivoted-cholesky.js';
import { type FalkonOptions, falkon, falkonAsync } from './falkon.js';
import { nystroemDirect, nystroemDirectAsync } from './nystroem-direct.js';
import { type MatrixJSON, matrixFromJSON, matrixToJSON, requireFitted, requireModelTag } from '../util/serialization.js';

export type KrrSolver = 'auto' | 'pcg' | 'cholesky' | 'cg' | 'nystroem-pcg' | 'nystroem';

export interface KernelRidgeOptions extends KernelMatrixOptions, StoredKernelOptions {
  kernel: Kernel;
  /** Ridge α > 0 of (K + αI)c = y, scikit-learn's KernelRidge(alpha) (default 1). */
  alpha?: number;
  /**
   * 'auto' (default): 'pcg' while K fits `maxMemoryBytes`, 'cg' above;
   * 'pcg': K computed once into packed storage (n(n+1)/2 float64, within `maxMemoryBytes`, else
   * BudgetTooSmallError), then conjugate gradients on K + αI, one O(n²) product of the stored
   * matrix per iteration (optionally preconditioned, see `preconditionerRank`); at the default
   * tolerance the predictions match the Cholesky solve to ~1e-8 relative;
   * 'cholesky': the exact solve of scikit-learn, O(n³) with the n×n matrix stored (from 128 points
   * on factored in float32 and refined to float64's accuracy, as LAPACK's dsposv; in float64 where
   * float32 cannot resolve the system);
   * 'cg': the same CG on the lazy operator K + αI (no n×n storage, every product evaluates the
   * kernel again);
   * 'nystroem-pcg': the Nyström-restricted problem over m centres, solved by CG with the FALKON
   * preconditioner (Rudi, Carratino & Rosasco 2017): O(n·m) per iteration, O(m²) memory;
   * 'nystroem': the same Nyström problem solved directly, K_mnK_nm + α(K_mm + jI) formed tile by
   * tile and factorized once (O(n·m² + m³), O(m²) memory, on the host): the faster choice for
   * m up to a few thousand, and for many target columns, whose cost CG multiplies and it does not.
   * Ridge-leverage sampling of the centres uses the regression's own α as λ.
   */
  solver?: KrrSolver;
  /** CG: relative residual to stop at (default 1e-8) and iteration cap (default 1000). */
  tolerance?: number;
  maxIterations?: number;
  /**
   * pcg / cg: rank of a pivoted-Cholesky preconditioner of K + αI (stops early once the
   * remainder's trace is below α). Default 0, plain CG: at α comparable to K's diagonal (rbf with
   * scikit-learn's α = 1) it cut iterations by less than its own cost in the benchmark; a rank of
   * 50–200 pays off when α is small next to K's spectrum (CG's iterations grow like √(λ_max/α)).
   */
  preconditionerRank?: number;
  /** nystroem-pcg / nystroem: number of centres (default min(n, 1000)) and how they are sampled. */
  nCenters?: number;
  sampling?: LandmarkSampling;
  /**
   * nystroem-pcg on the host: K_nm (n·m float64 values) is kept during the fit when it takes at
   * most this many bytes (default 64 MiB), so each CG iteration reads it instead of evaluating the
   * kernel again; 0 keeps memory at O(m² + tile) whatever n is. Freed when fit returns.
   */
  kernelCacheBytes?: number;
  seed?: number;
}

export interface KernelRidgeJSON {
  name: 'KernelRidge';
  version: 1;
  kernel: KernelSpec;
  alpha: number;
  solver: KrrSolver;
  centers: MatrixJSON;
  dualCoef: MatrixJSON;
  targetColumns: number;
}

/**
 * Kernel ridge regression: f(x) = Σᵢ cᵢ k(x, xᵢ) with (K + αI) c = y (exact solvers), or
 * f(x) = Σⱼ βⱼ k(x, cⱼ) over m centres minimizing ‖K_nm β − y‖² + α βᵀK_mm β (Nyström). Targets
 * may be a vector or an n×t matrix (several outputs share one factorization).
 */
export class KernelRidge {
  readonly kernel: Kernel;
  readonly alpha: number;
  readonly solver: KrrSolver;
  private readonly options: KernelRidgeOptions;
  private centers?: Matrix;
  private coefficients?: Matrix;
  private targetColumns = 1;
  /** CG iterations of the last fit (pcg, cg, nystroem-pcg; undefined after a direct solve). */
  iterations?: number;

  constructor(options: KernelRidgeOptions) {
    if (!options?.kernel) throw new InvalidConfigError('KernelRidge: a kernel is required');
    this.kernel = options.kernel;
    this.alpha = requirePositive(options.alpha ?? 1, 'KernelRidge', 'alpha');
    this.solver = options.solver ?? 'auto';
    if (!['auto', 'pcg', 'cholesky', 'cg', 'nystroem-pcg', 'nystroem'].includes(this.solver)) {
      throw new InvalidConfigError(`KernelRidge: solver must be auto, pcg, cholesky, cg, nystroem-pcg or nystroem, got ${String(this.solver)}`);
    }
    if (options.maxMemoryBytes !== undefined) requirePositive(options.maxMemoryBytes, 'KernelRidge', 'maxMemoryBytes', true);
    if (options.preconditionerRank !== undefined) requireInteger(options.preconditionerRank, 0, Number.MAX_SAFE_INTEGER, 'KernelRidge', 'preconditionerRank');
    if (options.kernelCacheBytes !== undefined) requirePositive(options.kernelCacheBytes, 'KernelRidge', 'kernelCacheBytes', true);
    this.options = options;
  }

  fit(points: PointsInput, targets: ArrayLike<number> | Matrix): this {
    const x = asPoints(points, 'KernelRidge.fit', { cols: this.kernel.inputDim });
    const y = asTargets(targets, x.rows, 'KernelRidge.fit');
    const alpha = this.alpha;
    const solver = this.resolveSolver(x.rows);
    if (solver === 'cg' || solver === 'nystroem-pcg') requireSynchronousEngine(this.options.engine, `KernelRidge.fit (${solver})`, 'fitAsync');
    if (solver === 'cholesky') {
      // The lower triangle is all the factorization reads (for a Gaussian kernel, all that is computed).
      const gram = new KernelMatrix(this.kernel, x, undefined, this.options).lowerTriangleMatrix();
      // α joins each pivot inside the factorization (the jitter): no n × n copy of K + αI.
      this.coefficients = positiveDefiniteSolve(gram, y, { jitter: alpha }).x;
      this.centers = x;
    } else if (solver === 'pcg' || solver === 'cg') {
      const n = x.rows;
      let apply: (v: Matrix) => Matrix;
      let diagonal: Float64Array;
      let column: (pivot: number, out: Float64Array) => void;
      let dispose: (() => void) | undefined;
      if (solver === 'pcg') {
        requirePackedKernelFits(n, this.options.maxMemoryBytes, 'KernelRidge.fit (pcg)', "solver 'cg'");
        const gram = materializeKernel(this.kernel, x, { productColumns: productColumnsFor(y.cols) });
        dispose = () => gram.simd?.arena.dispose();
        diagonal = packedDiagonal(gram);
        // K + αI in place (the solve's matrix); the preconditioner reads K's columns back without α.
        for (let i = 0; i < n; i++) gram.data[rowOffset(n, i)] += alpha;
        apply = (v) => packedMultiply(gram, v);
        column = (pivot, out) => {
          packedRow(gram, pivot, out);
          out[pivot] -= alpha;
        };
      } else {
        const operator = new KernelMatrix(this.kernel, x, undefined, this.options);
        diagonal = this.kernel.diagonal(x);
        column = this.lazyColumn(x);
        apply = (v) => addRidge(operator.multiply(v), v, alpha);
      }
      let result;
      try {
        result = conjugateGradient(apply, y, this.cgOptions(diagonal, column, `KernelRidge.fit (${solver})`));
      } finally {
        dispose?.();
      }
      this.coefficients = result.x;
      this.iterations = result.iterations;
      this.centers = x;
    } else {
      this.fitNystroem(x, y, solver);
    }
    this.targetColumns = y.cols;
    return this;
  }

  /**
   * `fit` with the kernel products on the `engine` backend (a WebGPU or CUDA backend, whose results
   * are read back asynchronously): the lazy solvers 'cg' and 'nystroem-pcg' build each tile there in
   * f32 and bring back only the products; CG and the FALKON preconditioner stay on the host in
   * float64. The direct 'nystroem' forms its normal equations K_mnK_nm and K_mnY on the device for
   * radial kernels (CUDA: in float64; WebGPU: f32 kernel values summed exactly; one read-back of
   * (m + t)² sums; the m × m solve on the host), and on the host elsewhere. The stored
   * solvers ('pcg', 'cholesky', and 'auto' while K fits the budget) evaluate the kernel on the host
   * whatever the engine, so there it is `fit`.
   */
  async fitAsync(points: PointsInput, targets: ArrayLike<number> | Matrix): Promise<this> {
    const x = asPoints(points, 'KernelRidge.fitAsync', { cols: this.kernel.inputDim });
    const y = asTargets(targets, x.rows, 'KernelRidge.fitAsync');
    const solver = this.resolveSolver(x.rows);
    if (solver === 'nystroem-pcg') {
      const centers = this.sampleCenters(x);
      const result = await falkonAsync(this.kernel, x, y, centers, this.falkonOptions('KernelRidge.fitAsync (nystroem-pcg)'));
      this.setFit(centers, result.coefficients, result.iterations, y.cols);
      return this;
    }
    if (solver === 'nystroem') {
      const centers = this.sampleCenters(x);
      const { tileSize, engine } = this.options;
      this.setFit(centers, await nystroemDirectAsync(this.kernel, x, y, centers, { alpha: this.alpha, tileSize, engine }), undefined, y.cols);
      return this;
    }
    if (solver !== 'cg') return this.fit(x, y);
    const alpha = this.alpha;
    const operator = new KernelMatrix(this.kernel, x, undefined, this.options);
    try {
      const options = this.cgOptions(this.kernel.diagonal(x), this.lazyColumn(x), 'KernelRidge.fitAsync (cg)');
      const result = await conjugateGradientAsync(async (v) => addRidge(await operator.multiplyAsync(v), v, alpha), y, options);
      this.setFit(x, result.x, result.iterations, y.cols);
    } finally {
      operator.dispose();
    }
    return this;
  }

  /** `predict` with the products on the `engine` backend (read back asynchronously). */
  async predictAsync(points: PointsInput): Promise<Matrix> {
    const centers = requireFitted(this.centers, 'KernelRidge.predictAsync');
    const x = asPoints(points, 'KernelRidge.predictAsync', { cols: centers.cols });
    if (isHostEngine(this.options.engine)) return this.predict(x);
    return crossProductAsync(this.kernel, x, centers, this.coefficients as Matrix, this.options);
  }

  /** Predictions k(x, centres)·coefficients (n × t; t = 1 for a vector target). */
  predict(points: PointsInput): Matrix {
    const centers = requireFitted(this.centers, 'KernelRidge.predict');
    const x = asPoints(points, 'KernelRidge.predict', { cols: centers.cols });
    const coefficients = this.coefficients as Matrix;
    requireSynchronousEngine(this.options.engine, 'KernelRidge.predict', 'predictAsync');
    return crossProduct(this.kernel, x, centers, coefficients, this.options);
  }

  /** The dual coefficients (n × t, or m × t for Nyström centres). */
  get dualCoef(): Matrix {
    return requireFitted(this.coefficients, 'KernelRidge.dualCoef');
  }

  toJSON(): KernelRidgeJSON {
    const centers = requireFitted(this.centers, 'KernelRidge.toJSON');
    return {
      name: 'KernelRidge',
      version: 1,
      kernel: this.kernel.toJSON(),
      alpha: this.alpha,
      solver: this.solver,
      centers: matrixToJSON(centers),
      dualCoef: matrixToJSON(this.coefficients as Matrix),
      targetColumns: this.targetColumns,
    };
  }

  static load(json: KernelRidgeJSON): KernelRidge {
    requireModelTag(json, 'KernelRidge');
    const model = new KernelRidge({ kernel: kernelFromJSON(json.kernel), alpha: json.alpha, solver: json.solver });
    model.centers = matrixFromJSON(json.centers, 'KernelRidge', 'centers');
    model.coefficients = matrixFromJSON(json.dualCoef, 'KernelRidge', 'dualCoef');
    model.targetColumns = json.targetColumns;
    return model;
  }

  /** The solver a fit of n points runs: 'auto' resolved by the memory budget. */
  resolveSolver(n: number): Exclude<KrrSolver, 'auto'> {
    if (this.solver !== 'auto') return this.solver;
    return packedKernelFits(n, this.options.maxMemoryBytes) ? 'pcg' : 'cg';
  }

  /** Samples the centres, then solves the Nyström-restricted problem with FALKON or directly. */
  private fitNystroem(x: Matrix, y: Matrix, solver: 'nystroem-pcg' | 'nystroem'): void {
    const centers = this.sampleCenters(x);
    if (solver === 'nystroem') {
      const { tileSize, engine } = this.options;
      this.coefficients = nystroemDirect(this.kernel, x, y, centers, { alpha: this.alpha, tileSize, engine });
      this.iterations = undefined;
    } else {
      const result = falkon(this.kernel, x, y, centers, this.falkonOptions('KernelRidge.fit (nystroem-pcg)'));
      this.coefficients = result.coefficients;
      this.iterations = result.iterations;
    }
    this.centers = centers;
  }

  /** The Nyström centres: m rows sampled uniformly or by ridge leverage, duplicates dropped. */
  private sampleCenters(x: Matrix): Matrix {
    const n = x.rows;
    const m = requireInteger(this.options.nCenters ?? Math.min(n, 1000), 1, n, 'KernelRidge', 'nCenters');
    const rng = createRng(this.options.seed ?? 0);
    const indices =
      (this.options.sampling ?? 'uniform') === 'uniform'
        ? uniformIndices(n, m, rng)
        : weightedWithoutReplacement(ridgeLeverageScores(this.kernel, x, Math.min(n, 2 * m), this.alpha, rng, this.options, m), m, rng);
    // Duplicate rows (common in real data) would make K_mm exactly singular: keep one of each.
    const seen = new Set<string>();
    const distinct = Int32Array.from(indices).filter((i) => {
      const key = x.data.subarray(i * x.cols, (i + 1) * x.cols).join(',');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return selectRows(x, distinct);
  }

  private falkonOptions(where: string): FalkonOptions {
    return {
      ...this.options,
      alpha: this.alpha,
      cacheBytes: this.options.kernelCacheBytes ?? 64 * 2 ** 20,
      tolerance: this.options.tolerance ?? 1e-8,
      maxIterations: this.options.maxIterations ?? 1000,
      where,
    };
  }

  /** Column `pivot` of K evaluated on the host (the pivoted-Cholesky preconditioner of 'cg'). */
  private lazyColumn(x: Matrix): (pivot: number, out: Float64Array) => void {
    return (pivot, out) => this.kernel.evaluate(x, x, out, 0, x.rows, pivot, pivot + 1);
  }

  /** CG's options for K + αI, with the pivoted-Cholesky preconditioner of rank `preconditionerRank`. */
  private cgOptions(diagonal: Float64Array, column: (pivot: number, out: Float64Array) => void, where: string): ConjugateGradientOptions {
    const factor = pivotedCholesky(diagonal, column, this.options.preconditionerRank ?? 0, this.alpha);
    return {
      tolerance: this.options.tolerance,
      maxIterations: this.options.maxIterations,
      precondition: factor.rows.length > 0 ? lowRankPlusShiftInverse(factor.rows, this.alpha) : undefined,
      where,
    };
  }

  private setFit(centers: Matrix, coefficients: Matrix, iterations: number | undefined, targetColumns: number): void {
    this.centers = centers;
    this.coefficients = coefficients;
    this.iterations = iterations;
    this.targetColumns = targetColumns;
  }
}

/** K·V + α·V in place on K·V. */
function addRidge(kv: Matrix, v: Matrix, alpha: number): Matrix {
  for (let i = 0; i < kv.data.length; i++) kv.data[i] += alpha * v.data[i];
  return kv;
}
