import { createRng, InvalidConfigError, type Matrix, svd } from '@kvkit/tensor-core';
import { centerColumns } from '../util/linalg.js';

/** Early exaggeration factor and length (iterations), scikit-learn's and the papers' schedule. */
export const EXAGGERATION = 12;
export const EXAGGERATION_ITERATIONS = 250;

/** scikit-learn's "auto" learning rate, max(n / exaggeration / 4, 50). */
export function autoLearningRate(n: number): number {
  return Math.max(n / EXAGGERATION / 4, 50);
}

/**
 * Sets `out[0..count)` to the conditional affinities p_{j|i} ∝ exp(−β·dᵢⱼ²) of one point over the
 * candidate squared distances `distances[0..count)`, with β found by bisection so that the
 * distribution's entropy is log(perplexity).
 */
export function calibrateRow(distances: Float64Array, count: number, perplexity: number, out: Float64Array): void {
  const target = Math.log(perplexity);
  let beta = 1;
  let low = -Infinity;
  let high = Infinity;
  for (let step = 0; step < 100; step++) {
    let sum = 0;
    let weighted = 0;
    for (let j = 0; j < count; j++) {
      const w = Math.exp(-distances[j] * beta);
      out[j] = w;
      sum += w;
      if (w > 0) weighted += w * distances[j]; // 0·∞ would be NaN for excluded (infinite) entries
    }
    if (sum === 0) sum = 1e-300;
    const entropy = Math.log(sum) + (beta * weighted) / sum;
    for (let j = 0; j < count; j++) out[j] /= sum;
    if (Math.abs(entropy - target) < 1e-5) break;
    if (entropy > target) {
      low = beta;
      beta = high === Infinity ? beta * 2 : (beta + high) / 2;
    } else {
      high = beta;
      beta = low === -Infinity ? beta / 2 : (beta + low) / 2;
    }
  }
}

/**
 * One step of gradient descent with momentum and per-coordinate gains (Jacobs 1988, as in the
 * t-SNE papers): gains grow by 0.2 where the gradient keeps its sign against the update and
 * shrink by ×0.8 (floor 0.01) otherwise.
 */
export function gainsStep(y: Float64Array, gradient: Float64Array, update: Float64Array, gains: Float64Array, momentum: number, learningRate: number): void {
  for (let t = 0; t < y.length; t++) {
    gains[t] = Math.sign(gradient[t]) !== Math.sign(update[t]) ? gains[t] + 0.2 : Math.max(gains[t] * 0.8, 0.01);
    update[t] = momentum * update[t] - learningRate * gains[t] * gradient[t];
    y[t] += update[t];
  }
}

/** PCA (scaled to a first-coordinate standard deviation of 1e-4, scikit-learn) or N(0, 1e-8) start. */
export function initialEmbedding(x: Matrix, dims: number, init: 'pca' | 'random', seed: number, where: string): Float64Array {
  const n = x.rows;
  const y = new Float64Array(n * dims);
  if (init === 'random') {
    const rng = createRng(seed);
    for (let i = 0; i < y.length; i++) y[i] = 1e-4 * rng.normal();
    return y;
  }
  if (init !== 'pca') throw new InvalidConfigError(`${where}: init must be 'pca' or 'random', got ${String(init)}`);
  const { u, s } = svd(centerColumns(x));
  for (let i = 0; i < n; i++) for (let k = 0; k < dims; k++) y[i * dims + k] = u.data[i * u.cols + k] * s[k];
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i * dims] / n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (y[i * dims] - mean) ** 2 / n;
  const factor = 1e-4 / Math.sqrt(variance || 1);
  for (let i = 0; i < y.length; i++) y[i] *= factor;
  return y;
}
