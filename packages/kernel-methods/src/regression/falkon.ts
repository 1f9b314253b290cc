import { cholesky, lowerTriangularSolver, type Matrix, type ProductSteps, runSteps, runStepsAsync, triangularGram } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { KernelMatrix, type KernelMatrixOptions } from '../operator/kernel-matrix.js';
import { conjugateGradientSteps } from '../util/linalg.js';
import { centerGram } from './nystroem-system.js';
import { hostKernelRows } from '../operator/radial-cross.js';
import { accumulateProduct, accumulateTransposedProduct, simdNormalColumns, simdNormalProduct, simdTransposedColumns } from '../util/tile-products.js';
import { SimdArena, simdThreadCount } from '../wasm/simd-arena.js';

export interface FalkonOptions extends KernelMatrixOptions {
  /** Ridge α of ‖K_nm β − y‖² + α βᵀ(K_mm + jI)β. */
  alpha: number;
  tolerance?: number;
  maxIterations?: number;
  /**
   * Keep K_nm (n·m float64 values) after the first product when it takes at most this many bytes,
   * so later CG iterations read it instead of re-evaluating the kernel (host engine only).
   */
  cacheBytes?: number;
  where: string;
}

export interface FalkonResult {
  coefficients: Matrix;
  iterations: number;
}

/**
 * FALKON (Rudi, Carratino & Rosasco 2017): solve (K_mnK_nm + α(K_mm + jI)) β = K_mn y by CG
 * preconditioned with P = T·A, where K_mm + jI = TTᵀ and AAᵀ = (n/m)TᵀT + αI, so that
 * PPᵀ = (n/m)(K_mm + jI)² + α(K_mm + jI) approximates the system matrix for uniform centres. CG runs
 * on P⁻¹(·)P⁻ᵀ, β = P⁻ᵀu. The jitter j (relative to the kernel's scale) is part of the regularizer,
 * as in the paper's implementation: with the exact K_mm there, directions where K_mm is (numerically)
 * singular — duplicate or nearly collinear centres — keep an eigenvalue ≈ 0 in the system but j in the
 * preconditioner, and CG needs hundreds of iterations instead of tens.
 */
export function falkon(kernel: Kernel, x: Matrix, y: Matrix, centers: Matrix, options: FalkonOptions): FalkonResult {
  const normal = normalProduct(kernel, x, centers, y.cols, options);
  try {
    return runSteps(falkonSteps(kernel, x.rows, y, centers, options), (request) =>
      request.op === 'apply' ? normal.apply(request.v) : normal.transposedTimes(request.v),
    );
  } finally {
    normal.dispose();
  }
}

/**
 * `falkon` with K_nm's products on a device engine (a KernelMatrix on WebGPU / CUDA, read back
 * asynchronously; each iteration's K_mn(K_nm β) chained there, one readback); the preconditioner
 * and the CG vectors stay on the host in float64.
 */
export async function falkonAsync(kernel: Kernel, x: Matrix, y: Matrix, centers: Matrix, options: FalkonOptions): Promise<FalkonResult> {
  const knm = new KernelMatrix(kernel, x, centers, options);
  try {
    return await runStepsAsync(falkonSteps(kernel, x.rows, y, centers, options), (request) =>
      request.op === 'apply' ? knm.multiplyNormalAsync(request.v) : knm.multiplyTransposedAsync(request.v),
    );
  } finally {
    knm.dispose();
  }
}

/** A product FALKON needs: K_mn(K_nm·v) ('apply', v: m × k) or K_mn·v ('transposedTimes', v: n × k). */
interface NormalRequest {
  op: 'apply' | 'transposedTimes';
  v: Matrix;
}

/** The FALKON solve as an iteration that yields the K_nm products it needs (tensor-core's runSteps / runStepsAsync drive it). */
function* falkonSteps(kernel: Kernel, n: number, y: Matrix, centers: Matrix, options: FalkonOptions): ProductSteps<NormalRequest, Matrix, FalkonResult> {
  const m = centers.rows;
  const alpha = options.alpha;
  const { kmm, jitter } = centerGram(kernel, centers, options.tileSize);
  const t = cholesky(kmm, { jitter });
  const gram = triangularGram(t);
  for (let i = 0; i < gram.data.length; i++) gram.data[i] *= n / m;
  // Four solves with T or A every iteration: both held in WebAssembly memory for the whole solve.
  const solveT = lowerTriangularSolver(t);
  const solveA = lowerTriangularSolver(cholesky(gram, { jitter: alpha }));
  // In u = Pᵀβ coordinates the system is P⁻¹K_mnK_nmP⁻ᵀu + αA⁻¹A⁻ᵀu (the regularizer's T cancels):
  // with w = A⁻ᵀu, β = T⁻ᵀw, the product is A⁻¹(T⁻¹K_mnK_nmβ + αw).
  const kmnY = yield { op: 'transposedTimes', v: y };
  const rhs = solveA(solveT(kmnY));
  const cg = conjugateGradientSteps(rhs, {
    tolerance: options.tolerance ?? 1e-8,
    maxIterations: options.maxIterations ?? 1000,
    where: options.where,
  });
  let step = cg.next();
  while (!step.done) {
    const w = solveA(step.value, true);
    const beta = solveT(w, true);
    const z = solveT(yield { op: 'apply', v: beta });
    for (let i = 0; i < z.data.length; i++) z.data[i] += alpha * w.data[i];
    step = cg.next(solveA(z));
  }
  const coefficients = solveT(solveA(step.value.x, true), true);
  return { coefficients, iterations: step.value.iterations };
}

// Below this many cached values (n·m) a product is too short for threads to pay their hand-off.
const THREADED_MIN_VALUES = 2 ** 18;

/** Right-hand columns per SIMD pass over the cached K_nm: bounds the arena's extra (2m + n)·16 values. */
const MAX_ARENA_COLUMNS = 16;

interface NormalProduct {
  /** K_mn(K_nm B) for B (m × k). */
  apply(b: Matrix): Matrix;
  /** K_mn Y for Y (n × k). */
  transposedTimes(y: Matrix): Matrix;
  /** Done with the products: the cache's arena is disposed of (its memory goes back for reuse). */
  dispose(): void;
}

/**
 * K_mnK_nm·B. On a device engine: two lazy products. On the host: one pass over row tiles of K_nm,
 * each tile evaluated once into a reused buffer and used for both K_tile·B and K_tileᵀ·(K_tile·B);
 * K_nm is kept whole after the first pass when it fits in `cacheBytes` (in WebAssembly memory where
 * SIMD is available: the products then run there, `columns` right-hand columns at most 16 at a time).
 */
function normalProduct(kernel: Kernel, x: Matrix, centers: Matrix, columns: number, options: FalkonOptions): NormalProduct {
  const knm = new KernelMatrix(kernel, x, centers, options);
  if (knm.engine !== 'host') {
    return {
      apply: (b) => knm.multiplyTransposed(knm.multiply(b)),
      transposedTimes: (y) => knm.multiplyTransposed(y),
      dispose: () => {},
    };
  }
  const n = x.rows;
  const m = centers.rows;
  const evaluateRows = hostKernelRows(kernel, x, centers, knm.engine);
  const cacheFits = n * m * 8 <= (options.cacheBytes ?? 0);
  // A cached K_nm in WebAssembly memory, with slots for up to `width` right-hand columns at a time:
  // the input (m × width), K_nm·B (n × width) and the result (m × width).
  const width = Math.min(columns, MAX_ARENA_COLUMNS);
  // Each worker thread gets an area for its partial result (m × width).
  const lengths = [n * m, m * width, n * width, m * width, ...new Array<number>(simdThreadCount() - 1).fill(m * width)];
  const arena = cacheFits ? SimdArena.create(lengths, { threads: n * m >= THREADED_MIN_VALUES }) : null;
  const cache = arena ? arena.arrays[0] : cacheFits ? new Float64Array(n * m) : undefined;
  let cacheFilled = false;
  /** K_nm into the cache, on first use (its fresh pages first touched by every thread). */
  const fillCache = (store: Float64Array): void => {
    if (cacheFilled) return;
    arena?.touchInParallel(store);
    evaluateRows(0, n, store);
    cacheFilled = true;
  };
  // Row tiles of about tileSize² values, the memory bound of the lazy operator.
  const tileRows = cache ? n : Math.max(1, Math.min(n, Math.floor((knm.tileSize * knm.tileSize) / m)));
  const tile = cache ?? new Float64Array(tileRows * m);
  let rows = new Float64Array(0);
  /** Calls visit(r0, r1) once the values of K_nm[r0:r1, :] are in `tile` (row-major, width m). */
  const forEachTile = (visit: (r0: number, r1: number) => void): void => {
    if (cache) {
      fillCache(cache);
      visit(0, n);
      return;
    }
    for (let r0 = 0; r0 < n; r0 += tileRows) {
      const r1 = Math.min(n, r0 + tileRows);
      evaluateRows(r0, r1, tile);
      visit(r0, r1);
    }
  };
  /** K_mn(K_nm B) or K_mn V, all in the arena: one SIMD pass over the cache. */
  const simdProduct = (v: Matrix, transposedOnly: boolean): Matrix => {
    const simd = arena as SimdArena;
    const [cached, b, nRows, mOut, ...workerOuts] = simd.arrays;
    const outs = [mOut, ...workerOuts.slice(0, simd.threadCount - 1)];
    const k = v.cols;
    fillCache(cached);
    if (k === 1 && !transposedOnly) {
      b.set(v.data);
      simdNormalProduct(simd, cached, n, m, b, nRows, outs);
      return { rows: m, cols: 1, data: mOut.slice(0, m) };
    }
    // Up to `width` columns at a time; the result comes back column by column (w × m).
    const out = new Float64Array(m * k);
    const [input, inputRows] = transposedOnly ? [nRows, n] : [b, m];
    for (let l0 = 0; l0 < k; l0 += width) {
      const w = Math.min(width, k - l0);
      for (let i = 0; i < inputRows; i++) for (let l = 0; l < w; l++) input[i * w + l] = v.data[i * k + l0 + l];
      if (transposedOnly) simdTransposedColumns(simd.kernels, cached, n, m, nRows, w, mOut);
      else simdNormalColumns(simd, cached, n, m, b, w, nRows, outs);
      for (let l = 0; l < w; l++) for (let j = 0; j < m; j++) out[j * k + l0 + l] = mOut[l * m + j];
    }
    return { rows: m, cols: k, data: out };
  };
  return {
    apply(b) {
      const k = b.cols;
      if (arena) return simdProduct(b, false);
      const out = new Float64Array(m * k);
      if (rows.length < tileRows * k) rows = new Float64Array(tileRows * k);
      forEachTile((r0, r1) => {
        const height = r1 - r0;
        rows.fill(0, 0, height * k);
        accumulateProduct(tile, height, m, b.data, 0, rows, 0, k);
        accumulateTransposedProduct(tile, height, m, rows, 0, out, 0, k);
      });
      return { rows: m, cols: k, data: out };
    },
    dispose: () => arena?.dispose(),
    transposedTimes(y) {
      const k = y.cols;
      if (arena) return simdProduct(y, true);
      const out = new Float64Array(m * k);
      forEachTile((r0, r1) => accumulateTransposedProduct(tile, r1 - r0, m, y.data, r0, out, 0, k));
      return { rows: m, cols: k, data: out };
    },
  };
}
