import { createRng, type Matrix } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { KernelMatrix, type KernelMatrixOptions } from '../operator/kernel-matrix.js';
import { asPoints, type PointsInput } from '../points.js';
import { monteCarloPValue, type NullSimulationOptions, resolveNullOptions, type TestResult } from './test-result.js';

export interface MmdTestOptions extends NullSimulationOptions, KernelMatrixOptions {
  kernel: Kernel;
}

/**
 * The unbiased estimate of MMD²(P, Q) from samples x ~ P and y ~ Q (Gretton et al. 2012, Eq. 3):
 * mean of k(xᵢ, xⱼ) over i ≠ j + mean of k(yᵢ, yⱼ) over i ≠ j − 2·mean of k(xᵢ, yⱼ). Computed from
 * lazy row sums, so no Gram matrix is stored.
 */
export function mmdSquared(xs: PointsInput, ys: PointsInput, kernel: Kernel, options: KernelMatrixOptions = {}): number {
  const x = asPoints(xs, 'mmdSquared', { minRows: 2, cols: kernel.inputDim });
  const y = asPoints(ys, 'mmdSquared', { minRows: 2, cols: x.cols });
  const within = (p: Matrix): number => {
    const op = new KernelMatrix(kernel, p, undefined, options);
    const total = op.rowSums().reduce((a, b) => a + b, 0);
    const diagonal = op.diag().reduce((a, b) => a + b, 0);
    return (total - diagonal) / (p.rows * (p.rows - 1));
  };
  const cross = new KernelMatrix(kernel, x, y, options).rowSums().reduce((a, b) => a + b, 0) / (x.rows * y.rows);
  return within(x) + within(y) - 2 * cross;
}

/**
 * The kernel two-sample test: H₀ P = Q against P ≠ Q with the unbiased MMD² statistic and a
 * permutation null (the pooled sample relabelled at random; Gretton et al. 2012 §5). The pooled
 * Gram matrix is computed once ((n+m)² values) and every permutation re-reads it.
 */
export function mmdTest(xs: PointsInput, ys: PointsInput, options: MmdTestOptions): TestResult {
  const x = asPoints(xs, 'mmdTest', { minRows: 2, cols: options.kernel.inputDim });
  const y = asPoints(ys, 'mmdTest', { minRows: 2, cols: x.cols });
  const { alpha, draws, nullSeed } = resolveNullOptions(options, 'mmdTest');
  const n = x.rows;
  const m = y.rows;
  const total = n + m;
  const pooled: Matrix = { rows: total, cols: x.cols, data: new Float64Array(total * x.cols) };
  pooled.data.set(x.data);
  pooled.data.set(y.data, n * x.cols);
  const gram = new KernelMatrix(options.kernel, pooled, undefined, options).toMatrix().data;
  const labels = new Uint8Array(total);
  labels.fill(1, n);
  const statistic = unbiasedFromGram(gram, labels, n, m);
  const rng = createRng(nullSeed);
  const nullSamples = new Float64Array(draws);
  const permuted = Uint8Array.from(labels);
  for (let b = 0; b < draws; b++) {
    for (let i = total - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = permuted[i];
      permuted[i] = permuted[j];
      permuted[j] = t;
    }
    nullSamples[b] = unbiasedFromGram(gram, permuted, n, m);
  }
  const pValue = monteCarloPValue(statistic, nullSamples);
  return { statistic, pValue, nullSamples, alpha, rejected: pValue <= alpha, seeds: { null: nullSeed } };
}

/** Unbiased MMD² of the split given by labels (0: first sample, 1: second) from the pooled Gram. */
function unbiasedFromGram(gram: Float64Array, labels: Uint8Array, n: number, m: number): number {
  const total = labels.length;
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < total; i++) {
    const row = i * total;
    const li = labels[i];
    for (let j = i + 1; j < total; j++) {
      const v = gram[row + j];
      const lj = labels[j];
      if (li !== lj) xy += v;
      else if (li === 0) xx += v;
      else yy += v;
    }
  }
  return (2 * xx) / (n * (n - 1)) + (2 * yy) / (m * (m - 1)) - (2 * xy) / (n * m);
}
