import { cholesky, choleskySolve, createRng, InvalidConfigError, type Matrix } from '@kvkit/tensor-core';
import { type LandmarkSampling, ridgeLeverageScores, uniformIndices, weightedWithoutReplacement } from '../approximation/nystroem.js';
import type { Kernel, KernelSpec } from '../kernels/kernel.js';
import { kernelFromJSON } from '../kernels/from-json.js';
import { KernelMatrix, type KernelMatrixOptions } from '../operator/kernel-matrix.js';
import { asPoints, asTargets, type PointsInput, requireInteger, requirePositive, selectRows } from '../points.js';
import { addToDiagonal, conjugateGradient } from '../util/linalg.js';
import { falkon } from './falkon.js';
import { type MatrixJSON, matrixFromJSON, matrixToJSON, requireFitted, requireModelTag } from '../util/serialization.js';

export type KrrSolver = 'cholesky' | 'cg' | 'nystroem-pcg';

export interface KernelRidgeOptions extends KernelMatrixOptions {
  kernel: Kernel;
  /** Ridge α > 0 of (K + αI)c = y, scikit-learn's KernelRidge(alpha) (default 1). */
  alpha?: number;
  /**
   * 'cholesky' (default): the exact solve of scikit-learn, O(n³) with the n×n matrix stored;
   * 'cg': conjugate gradients on the lazy operator K + αI (no n×n storage, O(n²) per iteration);
   * 'nystroem-pcg': the Nyström-restricted problem over m centres, solved by CG with the FALKON
   * preconditioner (Rudi, Carratino & Rosasco 2017): O(n·m) per iteration, O(m²) memory.
   * Ridge-leverage sampling of the centres uses the regression's own α as λ.
   */
  solver?: KrrSolver;
  /** CG: relative residual to stop at (default 1e-8) and iteration cap (default 1000). */
  tolerance?: number;
  maxIterations?: number;
  /** nystroem-pcg: number of centres (default min(n, 1000)) and how they are sampled. */
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
  /** CG iterations of the last fit (cg, nystroem-pcg). */
  iterations?: number;

  constructor(options: KernelRidgeOptions) {
    if (!options?.kernel) throw new InvalidConfigError('KernelRidge: a kernel is required');
    this.kernel = options.kernel;
    this.alpha = requirePositive(options.alpha ?? 1, 'KernelRidge', 'alpha');
    this.solver = options.solver ?? 'cholesky';
    if (!['cholesky', 'cg', 'nystroem-pcg'].includes(this.solver)) {
      throw new InvalidConfigError(`KernelRidge: solver must be cholesky, cg or nystroem-pcg, got ${String(this.solver)}`);
    }
    if (options.kernelCacheBytes !== undefined) requirePositive(options.kernelCacheBytes, 'KernelRidge', 'kernelCacheBytes', true);
    this.options = options;
  }

  fit(points: PointsInput, targets: ArrayLike<number> | Matrix): this {
    const x = asPoints(points, 'KernelRidge.fit', { cols: this.kernel.inputDim });
    const y = asTargets(targets, x.rows, 'KernelRidge.fit');
    const alpha = this.alpha;
    if (this.solver === 'cholesky') {
      const gram = new KernelMatrix(this.kernel, x, undefined, this.options).toMatrix();
      this.coefficients = choleskySolve(cholesky(addToDiagonal(gram, alpha)), y);
      this.centers = x;
    } else if (this.solver === 'cg') {
      const operator = new KernelMatrix(this.kernel, x, undefined, this.options);
      const result = conjugateGradient(
        (v) => {
          const kv = operator.multiply(v);
          for (let i = 0; i < kv.data.length; i++) kv.data[i] += alpha * v.data[i];
          return kv;
        },
        y,
        { tolerance: this.options.tolerance, maxIterations: this.options.maxIterations, where: 'KernelRidge.fit' },
      );
      this.coefficients = result.x;
      this.iterations = result.iterations;
      this.centers = x;
    } else {
      this.fitNystroem(x, y);
    }
    this.targetColumns = y.cols;
    return this;
  }

  /** Predictions k(x, centres)·coefficients (n × t; t = 1 for a vector target). */
  predict(points: PointsInput): Matrix {
    const centers = requireFitted(this.centers, 'KernelRidge.predict');
    const x = asPoints(points, 'KernelRidge.predict', { cols: centers.cols });
    return new KernelMatrix(this.kernel, x, centers, this.options).multiply(this.coefficients as Matrix);
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

  /** Samples the centres, then solves the Nyström-restricted problem with FALKON. */
  private fitNystroem(x: Matrix, y: Matrix): void {
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
    const centers = selectRows(x, distinct);
    const result = falkon(this.kernel, x, y, centers, {
      ...this.options,
      alpha: this.alpha,
      cacheBytes: this.options.kernelCacheBytes ?? 64 * 2 ** 20,
      tolerance: this.options.tolerance ?? 1e-8,
      maxIterations: this.options.maxIterations ?? 1000,
      where: 'KernelRidge.fit (nystroem-pcg)',
    });
    this.coefficients = result.coefficients;
    this.iterations = result.iterations;
    this.centers = centers;
  }
}
