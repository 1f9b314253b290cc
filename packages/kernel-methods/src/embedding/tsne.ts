import { InvalidConfigError, type Matrix } from '@kvkit/tensor-core';
import { asPoints, type PointsInput, requireInteger, requirePositive } from '../points.js';
import { autoLearningRate, calibrateRow, EXAGGERATION, EXAGGERATION_ITERATIONS, gainsStep, initialEmbedding } from './tsne-common.js';

export interface TsneOptions {
  /** Output dimension (default 2). */
  nComponents?: number;
  /** Perplexity (default 30); must be below the number of points. */
  perplexity?: number;
  /** Iterations (default 1000), the first 250 with early exaggeration 12. */
  iterations?: number;
  /** 'pca' (default, scikit-learn's) or 'random'. */
  init?: 'pca' | 'random';
  seed?: number;
}

/**
 * Exact t-SNE (van der Maaten & Hinton 2008) with scikit-learn's schedule: perplexity-calibrated
 * Gaussian affinities (binary search on each point's precision), symmetrized; Student-t affinities
 * in the embedding; gradient descent with momentum 0.5 → 0.8, per-coordinate gains, early
 * exaggeration 12 for 250 iterations, learning rate max(n/12/4, 50) ("auto"), PCA initialization
 * scaled to a standard deviation of 1e-4. O(n²) per iteration.
 */
export function tsne(points: PointsInput, options: TsneOptions = {}): Matrix {
  const x = asPoints(points, 'tsne', { minRows: 4 });
  const n = x.rows;
  const dims = requireInteger(options.nComponents ?? 2, 1, 3, 'tsne', 'nComponents');
  const perplexity = requirePositive(options.perplexity ?? 30, 'tsne', 'perplexity');
  if (perplexity >= n) throw new InvalidConfigError(`tsne: perplexity ${perplexity} must be below the number of points ${n}`);
  const iterations = requireInteger(options.iterations ?? 1000, 251, 1e6, 'tsne', 'iterations');
  const p = jointProbabilities(x, perplexity);
  const y = initialEmbedding(x, dims, options.init ?? 'pca', options.seed ?? 0, 'tsne');
  const learningRate = autoLearningRate(n);
  const update = new Float64Array(n * dims);
  const gains = new Float64Array(n * dims).fill(1);
  const gradient = new Float64Array(n * dims);
  const q = new Float64Array(n * n);
  for (let it = 0; it < iterations; it++) {
    const early = it < EXAGGERATION_ITERATIONS;
    const momentum = early ? 0.5 : 0.8;
    const scale = early ? EXAGGERATION : 1;
    // Student-t kernel (1 + ‖yᵢ − yⱼ‖²)⁻¹ and its sum.
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let s = 0;
        for (let k = 0; k < dims; k++) s += (y[i * dims + k] - y[j * dims + k]) ** 2;
        const w = 1 / (1 + s);
        q[i * n + j] = w;
        q[j * n + i] = w;
        total += 2 * w;
      }
    }
    gradient.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const w = q[i * n + j];
        const factor = 4 * (scale * p[i * n + j] - w / total) * w;
        for (let k = 0; k < dims; k++) gradient[i * dims + k] += factor * (y[i * dims + k] - y[j * dims + k]);
      }
    }
    gainsStep(y, gradient, update, gains, momentum, learningRate);
  }
  return { rows: n, cols: dims, data: y };
}

/** Symmetrized affinities pᵢⱼ = (p_{j|i} + p_{i|j})/(2n), each row's precision set to match the perplexity. */
function jointProbabilities(x: Matrix, perplexity: number): Float64Array {
  const { rows: n, cols: d } = x;
  const conditional = new Float64Array(n * n);
  const distances = new Float64Array(n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (x.data[i * d + k] - x.data[j * d + k]) ** 2;
      distances[j] = s;
    }
    // The point itself gets weight exp(−β·∞) = 0.
    distances[i] = Infinity;
    calibrateRow(distances, n, perplexity, row);
    row[i] = 0;
    conditional.set(row, i * n);
  }
  const p = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) p[i * n + j] = Math.max((conditional[i * n + j] + conditional[j * n + i]) / (2 * n), 1e-12);
  return p;
}

/**
 * Trustworthiness of an embedding (Venna & Kaski 2001; scikit-learn's definition): 1 − penalty for
 * points that are among the k nearest neighbours in the embedding but not in the input, weighted
 * by how far down the input's ranking they are. 1 is perfect.
 */
export function trustworthiness(points: PointsInput, embedding: PointsInput, neighbors = 5): number {
  const x = asPoints(points, 'trustworthiness');
  const e = asPoints(embedding, 'trustworthiness');
  const n = x.rows;
  if (e.rows !== n) throw new InvalidConfigError(`trustworthiness: ${e.rows} embedded points for ${n} inputs`);
  const k = requireInteger(neighbors, 1, Math.floor(n / 2) - 1, 'trustworthiness', 'neighbors');
  const order = (m: Matrix, i: number): number[] => {
    const dist = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let c = 0; c < m.cols; c++) s += (m.data[i * m.cols + c] - m.data[j * m.cols + c]) ** 2;
      return s;
    });
    return Array.from({ length: n }, (_, j) => j)
      .filter((j) => j !== i)
      .sort((a, b) => dist[a] - dist[b] || a - b);
  };
  let penalty = 0;
  const rank = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    order(x, i).forEach((j, r) => (rank[j] = r + 1));
    for (const j of order(e, i).slice(0, k)) penalty += Math.max(0, rank[j] - k);
  }
  return 1 - (2 / (n * k * (2 * n - 3 * k - 1))) * penalty;
}
