import { cholesky, createRng, InvalidConfigError, type Matrix, matmulMatrix, NotConvergedError, ShapeMismatchError, solveTriangular, svd } from '@kvkit/tensor-core';
import { asPoints, type PointsInput, requireInteger, requirePositive } from '../points.js';
import { addToDiagonal, centerColumns, columnMeans, leadingColumns } from '../util/linalg.js';

export interface CcaOptions {
  /** Number of canonical pairs (default: min(p, q)). */
  nComponents?: number;
  /** Ridge added to each covariance: Cxx + rx·I, Cyy + ry·I (default 0; needed when n <= p or q). */
  regularization?: number | [number, number];
}

export interface CcaResult {
  /** Canonical correlations, descending. */
  correlations: Float64Array;
  /** p×k and q×k canonical weights: X·wx and Y·wy (centered) are the canonical variates. */
  weightsX: Matrix;
  weightsY: Matrix;
  meanX: Float64Array;
  meanY: Float64Array;
}

function paired(xs: PointsInput, ys: PointsInput, where: string): [Matrix, Matrix] {
  const x = asPoints(xs, where, { minRows: 2 });
  const y = asPoints(ys, where, { minRows: 2 });
  if (x.rows !== y.rows) throw new ShapeMismatchError(`${where}: the two views must have the same examples (rows), got ${x.rows} and ${y.rows}`);
  return [x, y];
}

function covariance(a: Matrix, b: Matrix, n: number): Matrix {
  const c = matmulMatrix(a, b, { transposeA: true });
  return { rows: c.rows, cols: c.cols, data: c.data.map((v) => v / (n - 1)) };
}

/**
 * Regularized canonical correlation analysis by whitening: with Cxx + rx·I = LxLxᵀ and
 * Cyy + ry·I = LyLyᵀ, the SVD of Lx⁻¹CxyLy⁻ᵀ gives the correlations (singular values) and the
 * weights Lx⁻ᵀU, Ly⁻ᵀV (Hotelling 1936; the classical closed form rather than scikit-learn's
 * NIPALS deflation).
 */
export function cca(xs: PointsInput, ys: PointsInput, options: CcaOptions = {}): CcaResult {
  const [x, y] = paired(xs, ys, 'cca');
  const n = x.rows;
  const [rx, ry] = Array.isArray(options.regularization) ? options.regularization : [options.regularization ?? 0, options.regularization ?? 0];
  requirePositive(rx, 'cca', 'regularization', true);
  requirePositive(ry, 'cca', 'regularization', true);
  const k = requireInteger(options.nComponents ?? Math.min(x.cols, y.cols), 1, Math.min(x.cols, y.cols), 'cca', 'nComponents');
  const meanX = columnMeans(x);
  const meanY = columnMeans(y);
  const xc = centerColumns(x, meanX);
  const yc = centerColumns(y, meanY);
  const lx = cholesky(addToDiagonal(covariance(xc, xc, n), rx));
  const ly = cholesky(addToDiagonal(covariance(yc, yc, n), ry));
  const cxy = covariance(xc, yc, n);
  // M = Lx⁻¹ Cxy Ly⁻ᵀ: solve Lx·A = Cxy, then Ly·Mᵀ = Aᵀ.
  const a = solveTriangular(lx, cxy, { lower: true });
  const mt = solveTriangular(ly, transpose(a), { lower: true });
  const factors = svd(transpose(mt));
  const weightsX = solveTriangular(lx, leadingColumns(factors.u, k), { lower: true, transpose: true });
  const weightsY = solveTriangular(ly, leadingColumns(transpose(factors.vt), k), { lower: true, transpose: true });
  return { correlations: factors.s.slice(0, k).map((s) => Math.min(s, 1)), weightsX, weightsY, meanX, meanY };
}

/** The canonical variates of new data: (X − meanX)·weightsX and (Y − meanY)·weightsY. */
export function ccaTransform(result: CcaResult, xs: PointsInput, ys: PointsInput): [Matrix, Matrix] {
  const x = asPoints(xs, 'ccaTransform', { cols: result.weightsX.rows });
  const y = asPoints(ys, 'ccaTransform', { cols: result.weightsY.rows });
  return [matmulMatrix(centerColumns(x, result.meanX), result.weightsX), matmulMatrix(centerColumns(y, result.meanY), result.weightsY)];
}

function transpose(m: Matrix): Matrix {
  const out = new Float64Array(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j];
  return { rows: m.cols, cols: m.rows, data: out };
}

export interface SvccaOptions {
  /** Directions kept per view: a count, or the fraction of variance to keep (default 0.99). */
  keep?: number;
  /** Ridge of the CCA step (default 0). */
  regularization?: number;
}

export interface SvccaResult {
  correlations: Float64Array;
  /** The mean canonical correlation: the SVCCA similarity of Raghu et al. */
  mean: number;
  keptX: number;
  keptY: number;
}

/**
 * SVCCA (Raghu et al. 2017): each representation (examples × neurons, the row convention here; the
 * google/svcca code takes neurons × examples) is reduced to its leading singular directions, then
 * CCA compares the reduced views; the similarity is the mean canonical correlation.
 */
export function svcca(xs: PointsInput, ys: PointsInput, options: SvccaOptions = {}): SvccaResult {
  const [x, y] = paired(xs, ys, 'svcca');
  const keep = options.keep ?? 0.99;
  if (!(keep > 0)) throw new InvalidConfigError(`svcca: keep must be > 0, got ${keep}`);
  const reduce = (m: Matrix): Matrix => {
    const centered = centerColumns(m);
    const { u, s } = svd(centered);
    let count: number;
    if (keep >= 1) {
      count = Math.min(Math.floor(keep), s.length);
    } else {
      const total = s.reduce((acc, v) => acc + v * v, 0);
      let acc = 0;
      count = 0;
      while (count < s.length && acc < keep * total) {
        acc += s[count] ** 2;
        count++;
      }
    }
    const kept = leadingColumns(u, Math.max(count, 1));
    return { rows: kept.rows, cols: kept.cols, data: kept.data.map((v, i) => v * s[i % kept.cols]) };
  };
  const rx = reduce(x);
  const ry = reduce(y);
  const result = cca(rx, ry, { regularization: options.regularization ?? 0 });
  const mean = result.correlations.reduce((a, b) => a + b, 0) / result.correlations.length;
  return { correlations: result.correlations, mean, keptX: rx.cols, keptY: ry.cols };
}

export interface StochasticCcaOptions {
  nComponents: number;
  /** 'cca' (default) or 'pls' (partial least squares: identity in place of the covariances). */
  mode?: 'cca' | 'pls';
  /** Ridge added to the covariances in CCA mode (default 1e-3). */
  regularization?: number;
  /** Examples per minibatch (default 64). */
  batchSize?: number;
  /** Passes over the data (default 50). */
  epochs?: number;
  /**
   * Initial step size relative to the data's scale (default 0.1): the step is learningRate/s with
   * s = λmax(B) (CCA: the larger of the two covariances' top eigenvalues plus the ridge) or
   * σmax(Cxy) (PLS), the scale of the objective's curvature, so one value works whatever the
   * units; it decays as 1/(1 + t/T), T ten epochs.
   */
  learningRate?: number;
  seed?: number;
}

export interface StochasticCcaResult {
  /** Canonical correlations (cca) or covariances (pls) captured by the learned subspace, descending. */
  values: Float64Array;
  weightsX: Matrix;
  weightsY: Matrix;
  meanX: Float64Array;
  meanY: Float64Array;
  /** The objective tr(−2UᵀAU + (UᵀBU)²) on the full data at the end (lower is better). */
  objective: number;
}

/**
 * Stochastic CCA / PLS by the unconstrained objective of Chapman, Aguila & Lawry ("Unconstrained
 * Stochastic CCA", 2023): for the generalized eigenproblem A u = λ B u (CCA: A = [[0, Cxy],
 * [Cyx, 0]], B = diag(Cxx + rI, Cyy + rI); PLS: B = I), the minimizers of
 * L(U) = tr(−2UᵀAU + (UᵀBU)(UᵀBU)) span its top-k subspace, so plain minibatch SGD with
 * the batch estimates of A and B (gradient −4AU + 4BU·UᵀBU) finds it without any constraint or
 * matrix inverse. The correlations (or covariances) are then read off the learned subspace with a
 * k-dimensional CCA (or SVD) on the full data.
 */
export function stochasticCca(xs: PointsInput, ys: PointsInput, options: StochasticCcaOptions): StochasticCcaResult {
  const [x, y] = paired(xs, ys, 'stochasticCca');
  const n = x.rows;
  const p = x.cols;
  const q = y.cols;
  const k = requireInteger(options.nComponents, 1, Math.min(p, q), 'stochasticCca', 'nComponents');
  const mode = options.mode ?? 'cca';
  if (mode !== 'cca' && mode !== 'pls') throw new InvalidConfigError(`stochasticCca: mode must be 'cca' or 'pls', got ${String(mode)}`);
  const reg = requirePositive(options.regularization ?? 1e-3, 'stochasticCca', 'regularization', true);
  const batch = requireInteger(options.batchSize ?? 64, 2, n, 'stochasticCca', 'batchSize');
  const epochs = requireInteger(options.epochs ?? 50, 1, 1e6, 'stochasticCca', 'epochs');
  const rate = requirePositive(options.learningRate ?? 0.1, 'stochasticCca', 'learningRate');
  const rng = createRng(options.seed ?? 0);
  const meanX = columnMeans(x);
  const meanY = columnMeans(y);
  const xc = centerColumns(x, meanX);
  const yc = centerColumns(y, meanY);
  const scale =
    mode === 'cca'
      ? Math.max(topSingularValue(covariance(xc, xc, n)), topSingularValue(covariance(yc, yc, n))) + reg
      : topSingularValue(covariance(xc, yc, n));
  if (!(scale > 0)) throw new InvalidConfigError('stochasticCca: a view is constant (zero variance)');
  const lr0 = rate / scale;
  const ux = new Float64Array(p * k).map(() => rng.normal() * 0.1);
  const uy = new Float64Array(q * k).map(() => rng.normal() * 0.1);
  const stepsPerEpoch = Math.ceil(n / batch);
  let t = 0;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let epoch = 0; epoch < epochs; epoch++) {
    rng.shuffle(order);
    for (let start = 0; start < n; start += batch) {
      const rows = order.slice(start, Math.min(start + batch, n));
      if (rows.length < 2) continue;
      const bx = gatherRows(xc, rows);
      const by = gatherRows(yc, rows);
      const [gx, gy] = objectiveGradient(bx, by, { rows: p, cols: k, data: ux }, { rows: q, cols: k, data: uy }, mode, reg);
      // A decay time of ten epochs: with one epoch, the sum of the steps grows too slowly (ln of the
      // epoch count) for directions of small curvature, and the second component was often not
      // reached in 60 epochs (gap to the exact correlation up to 0.5 in 1 run of 7).
      const lr = lr0 / (1 + t / (10 * stepsPerEpoch));
      for (let i = 0; i < ux.length; i++) ux[i] -= lr * gx.data[i];
      for (let i = 0; i < uy.length; i++) uy[i] -= lr * gy.data[i];
      t++;
    }
    // A step too large for the data's curvature makes the iterates blow up; say so here rather than
    // let the NaNs surface later as bad input to the final CCA/SVD.
    if (!ux.every(Number.isFinite) || !uy.every(Number.isFinite)) {
      throw new NotConvergedError(`stochasticCca: the iterates diverged in epoch ${epoch + 1} (learningRate ${rate} is too large for this data; try a smaller one)`, { epoch: epoch + 1, learningRate: rate });
    }
  }
  const wx: Matrix = { rows: p, cols: k, data: ux };
  const wy: Matrix = { rows: q, cols: k, data: uy };
  const objective = objectiveValue(xc, yc, wx, wy, mode, reg);
  const zx = matmulMatrix(xc, wx);
  const zy = matmulMatrix(yc, wy);
  let values: Float64Array;
  let weightsX: Matrix;
  let weightsY: Matrix;
  if (mode === 'cca') {
    const inner = cca(zx, zy, { regularization: 1e-12 });
    values = inner.correlations;
    weightsX = matmulMatrix(wx, inner.weightsX);
    weightsY = matmulMatrix(wy, inner.weightsY);
  } else {
    // Orthonormal bases of the learned subspaces, then the SVD of the k×k cross-covariance.
    const qx = orthonormalColumns(wx);
    const qy = orthonormalColumns(wy);
    const small = covariance(matmulMatrix(xc, qx), matmulMatrix(yc, qy), n);
    const f = svd(small);
    values = f.s;
    weightsX = matmulMatrix(qx, f.u);
    weightsY = matmulMatrix(qy, transpose(f.vt));
  }
  return { values, weightsX, weightsY, meanX, meanY, objective };
}

function gatherRows(m: Matrix, rows: number[]): Matrix {
  const out = new Float64Array(rows.length * m.cols);
  rows.forEach((r, i) => out.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols));
  return { rows: rows.length, cols: m.cols, data: out };
}

/** The pieces of L on (centered) data: AU, BU and UᵀBU, all from batch products. */
function objectivePieces(x: Matrix, y: Matrix, ux: Matrix, uy: Matrix, mode: 'cca' | 'pls', reg: number) {
  const b = x.rows;
  const zx = matmulMatrix(x, ux);
  const zy = matmulMatrix(y, uy);
  const scale = 1 / (b - 1);
  const aux = matmulMatrix(x, zy, { transposeA: true }).data.map((v) => v * scale); // Cxy·Uy
  const auy = matmulMatrix(y, zx, { transposeA: true }).data.map((v) => v * scale); // Cyx·Ux
  let bux: Float64Array;
  let buy: Float64Array;
  if (mode === 'cca') {
    bux = matmulMatrix(x, zx, { transposeA: true }).data.map((v, i) => v * scale + reg * ux.data[i]);
    buy = matmulMatrix(y, zy, { transposeA: true }).data.map((v, i) => v * scale + reg * uy.data[i]);
  } else {
    bux = Float64Array.from(ux.data);
    buy = Float64Array.from(uy.data);
  }
  const k = ux.cols;
  // UᵀBU = Uxᵀ(BU)x + Uyᵀ(BU)y and UᵀAU = Uxᵀ(AU)x + Uyᵀ(AU)y (k×k).
  const ubu = add(matmulMatrix(ux, { rows: ux.rows, cols: k, data: bux }, { transposeA: true }), matmulMatrix(uy, { rows: uy.rows, cols: k, data: buy }, { transposeA: true }));
  const uau = add(matmulMatrix(ux, { rows: ux.rows, cols: k, data: aux }, { transposeA: true }), matmulMatrix(uy, { rows: uy.rows, cols: k, data: auy }, { transposeA: true }));
  return { aux, auy, bux, buy, ubu, uau };
}

function objectiveGradient(x: Matrix, y: Matrix, ux: Matrix, uy: Matrix, mode: 'cca' | 'pls', reg: number): [Matrix, Matrix] {
  const { aux, auy, bux, buy, ubu } = objectivePieces(x, y, ux, uy, mode, reg);
  const k = ux.cols;
  const gx = matmulMatrix({ rows: ux.rows, cols: k, data: bux }, ubu).data.map((v, i) => 4 * v - 4 * aux[i]);
  const gy = matmulMatrix({ rows: uy.rows, cols: k, data: buy }, ubu).data.map((v, i) => 4 * v - 4 * auy[i]);
  return [
    { rows: ux.rows, cols: k, data: gx },
    { rows: uy.rows, cols: k, data: gy },
  ];
}

function objectiveValue(x: Matrix, y: Matrix, ux: Matrix, uy: Matrix, mode: 'cca' | 'pls', reg: number): number {
  const { ubu, uau } = objectivePieces(x, y, ux, uy, mode, reg);
  let trace = 0;
  for (let i = 0; i < uau.rows; i++) trace -= 2 * uau.data[i * uau.cols + i];
  for (let i = 0; i < ubu.data.length; i++) trace += ubu.data[i] * ubu.data[i];
  return trace;
}

function add(a: Matrix, b: Matrix): Matrix {
  return { rows: a.rows, cols: a.cols, data: a.data.map((v, i) => v + b.data[i]) };
}

function topSingularValue(m: Matrix): number {
  return svd(m).s[0] ?? 0;
}

function orthonormalColumns(m: Matrix): Matrix {
  return svd(m).u;
}
