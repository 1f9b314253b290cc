import { createRng, InvalidConfigError, type Matrix, matmulMatrix, ShapeMismatchError } from '@kvkit/tensor-core';
import { linear } from '../kernels/dot-product.js';
import type { Kernel } from '../kernels/kernel.js';
import { gramRowMeans } from '../operator/centered.js';
import { KernelMatrix } from '../operator/kernel-matrix.js';
import { asPoints, type PointsInput, requireInteger, selectRows } from '../points.js';
import { centerColumns, frobenius } from '../util/linalg.js';

function pairedPoints(xs: PointsInput, ys: PointsInput, where: string, minRows: number): [Matrix, Matrix] {
  const x = asPoints(xs, where, { minRows });
  const y = asPoints(ys, where, { minRows });
  if (x.rows !== y.rows) {
    throw new ShapeMismatchError(`${where}: the two representations must describe the same ${x.rows} examples (rows), got ${x.rows} and ${y.rows}`, {
      rows: [x.rows, y.rows],
    });
  }
  return [x, y];
}

/**
 * Linear CKA (Kornblith et al. 2019): ‖YᵀX‖²_F / (‖XᵀX‖_F·‖YᵀY‖_F) on column-centered
 * representations X (n×p) and Y (n×q), computed in feature space (O(n·(p + q)²), no n×n matrix).
 * Invariant to orthogonal transforms and isotropic scaling; 1 for identical representations.
 */
export function linearCka(xs: PointsInput, ys: PointsInput): number {
  const [x, y] = pairedPoints(xs, ys, 'linearCka', 2);
  const xc = centerColumns(x);
  const yc = centerColumns(y);
  const cross = frobenius(matmulMatrix(yc, xc, { transposeA: true }));
  const denominator = frobenius(matmulMatrix(xc, xc, { transposeA: true })) * frobenius(matmulMatrix(yc, yc, { transposeA: true }));
  if (!(denominator > 0)) throw new InvalidConfigError('linearCka: a representation is constant over the examples (CKA is undefined)');
  return (cross * cross) / denominator;
}

/** tr((HKH)·L) = tr(KHLH): (n−1)²·HSIC with the biased estimator; K and L symmetric n×n. */
function centeredTrace(k: Matrix, l: Matrix): number {
  const n = k.rows;
  const rowK = gramRowMeans(k);
  const meanK = rowK.reduce((a, b) => a + b, 0) / n;
  let trace = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      trace += (k.data[i * n + j] - rowK[i] - rowK[j] + meanK) * l.data[i * n + j];
    }
  }
  return trace;
}

/** CKA of two Gram matrices: HSIC(K, L)/√(HSIC(K, K)·HSIC(L, L)) with the biased HSIC. */
export function ckaFromGrams(k: Matrix, l: Matrix): number {
  if (k.rows !== k.cols || l.rows !== l.cols || k.rows !== l.rows) throw new ShapeMismatchError('ckaFromGrams: K and L must be square and of the same size');
  const kl = centeredTrace(k, l);
  const denominator = Math.sqrt(centeredTrace(k, k) * centeredTrace(l, l));
  if (!(denominator > 0)) throw new InvalidConfigError('ckaFromGrams: a centered Gram matrix is zero (CKA is undefined)');
  return kl / denominator;
}

export interface KernelCkaOptions {
  /** Kernel on the first representation (default linear). */
  kernelX?: Kernel;
  /** Kernel on the second representation (default: kernelX). */
  kernelY?: Kernel;
}

/** Kernel CKA (Kornblith et al. 2019): CKA of the two representations' Gram matrices. */
export function kernelCka(xs: PointsInput, ys: PointsInput, options: KernelCkaOptions = {}): number {
  const [x, y] = pairedPoints(xs, ys, 'kernelCka', 2);
  const kx = options.kernelX ?? linear();
  const ky = options.kernelY ?? kx;
  return ckaFromGrams(new KernelMatrix(kx, x).toMatrix(), new KernelMatrix(ky, y).toMatrix());
}

/**
 * The unbiased HSIC estimator of Song et al. (2012):
 * [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3)), K̃, L̃ with zero diagonals.
 * Needs n >= 4.
 */
export function unbiasedHsic(k: Matrix, l: Matrix): number {
  const n = k.rows;
  if (n < 4) throw new InvalidConfigError(`unbiasedHsic: needs at least 4 examples, got ${n}`);
  const kSums = new Float64Array(n);
  const lSums = new Float64Array(n);
  let trace = 0;
  let kTotal = 0;
  let lTotal = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const a = k.data[i * n + j];
      const b = l.data[i * n + j];
      trace += a * b;
      kSums[i] += a;
      lSums[i] += b;
    }
    kTotal += kSums[i];
    lTotal += lSums[i];
  }
  let cross = 0; // 1ᵀK̃L̃1 = Σᵢ (K̃1)ᵢ(L̃1)ᵢ
  for (let i = 0; i < n; i++) cross += kSums[i] * lSums[i];
  return (trace + (kTotal * lTotal) / ((n - 1) * (n - 2)) - (2 * cross) / (n - 2)) / (n * (n - 3));
}

export interface MinibatchCkaOptions extends KernelCkaOptions {
  /** Examples per minibatch (>= 4; default 256). */
  batchSize?: number;
  /** Seed of the shuffle into minibatches (default 0). */
  seed?: number;
}

/**
 * Minibatch CKA (Nguyen, Raghu & Kornblith 2021): the unbiased HSIC averaged over minibatches,
 * mean HSIC_u(K_b, L_b)/√(mean HSIC_u(K_b, K_b)·mean HSIC_u(L_b, L_b)), an estimate that converges
 * to the population CKA as batches accumulate and needs only batch-sized Gram matrices. A final
 * batch smaller than 4 examples is dropped.
 */
export function minibatchCka(xs: PointsInput, ys: PointsInput, options: MinibatchCkaOptions = {}): number {
  const [x, y] = pairedPoints(xs, ys, 'minibatchCka', 4);
  const batch = requireInteger(options.batchSize ?? 256, 4, Number.MAX_SAFE_INTEGER, 'minibatchCka', 'batchSize');
  const kx = options.kernelX ?? linear();
  const ky = options.kernelY ?? kx;
  const order = createRng(options.seed ?? 0).shuffle(Array.from({ length: x.rows }, (_, i) => i));
  let kl = 0;
  let kk = 0;
  let ll = 0;
  for (let start = 0; start + 4 <= x.rows; start += batch) {
    const rows = order.slice(start, Math.min(start + batch, x.rows));
    if (rows.length < 4) break;
    const k = new KernelMatrix(kx, selectRows(x, rows)).toMatrix();
    const l = new KernelMatrix(ky, selectRows(y, rows)).toMatrix();
    kl += unbiasedHsic(k, l);
    kk += unbiasedHsic(k, k);
    ll += unbiasedHsic(l, l);
  }
  if (!(kk > 0 && ll > 0)) throw new InvalidConfigError('minibatchCka: a representation has no (estimated) variance');
  return kl / Math.sqrt(kk * ll);
}

export interface DeconfoundedCkaOptions extends KernelCkaOptions {
  /** Kernel on the inputs (the confounder); default linear. */
  kernelInput?: Kernel;
}

/**
 * Deconfounded CKA (Cui et al. 2022, "Deconfounded Representation Similarity for Comparison of
 * Neural Networks"): each representation's Gram matrix is regressed on the inputs' Gram matrix
 * (ordinary least squares with intercept over the off-diagonal entries), and CKA is computed
 * between the residual similarity matrices, so that similarity explained by the input population
 * alone no longer counts.
 */
export function deconfoundedCka(xs: PointsInput, ys: PointsInput, inputs: PointsInput, options: DeconfoundedCkaOptions = {}): number {
  const [x, y] = pairedPoints(xs, ys, 'deconfoundedCka', 3);
  const z = asPoints(inputs, 'deconfoundedCka', { minRows: 3 });
  if (z.rows !== x.rows) throw new ShapeMismatchError(`deconfoundedCka: ${z.rows} inputs for ${x.rows} examples`);
  const kx = options.kernelX ?? linear();
  const ky = options.kernelY ?? kx;
  const k0 = new KernelMatrix(options.kernelInput ?? linear(), z).toMatrix();
  const residualK = residualize(new KernelMatrix(kx, x).toMatrix(), k0);
  const residualL = residualize(new KernelMatrix(ky, y).toMatrix(), k0);
  return ckaFromGrams(residualK, residualL);
}

/** K − β·K₀ with β the OLS slope of K's off-diagonal entries on K₀'s (intercept fitted too). */
export function residualize(k: Matrix, k0: Matrix): Matrix {
  const n = k.rows;
  let meanK = 0;
  let mean0 = 0;
  const count = n * (n - 1);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      meanK += k.data[i * n + j] / count;
      mean0 += k0.data[i * n + j] / count;
    }
  }
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const d0 = k0.data[i * n + j] - mean0;
      covariance += d0 * (k.data[i * n + j] - meanK);
      variance += d0 * d0;
    }
  }
  const beta = variance > 0 ? covariance / variance : 0;
  return { rows: n, cols: n, data: k.data.map((v, t) => v - beta * k0.data[t]) };
}
