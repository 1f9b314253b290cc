import { createRng, InvalidConfigError, type Matrix } from '@kvkit/tensor-core';
import { asPoints, type PointsInput, requireInteger } from '../points.js';

export interface MedianBandwidthOptions {
  /** Pairs are taken among at most this many points, drawn without replacement (default 1000). */
  maxPoints?: number;
  /** Seed of that subsample (default 0). */
  seed?: number;
}

/**
 * The median heuristic: the median Euclidean distance between distinct points, used as the RBF
 * bandwidth σ in exp(−‖x − y‖²/(2σ²)) (Gretton et al. 2012; kernlab's `sigest` idea). Large inputs
 * are subsampled to `maxPoints` so the cost stays O(maxPoints²·d). Zero distances (duplicates)
 * are kept, as in the usual definition; a median of 0 is refused (the bandwidth must be > 0).
 */
export function medianBandwidth(points: PointsInput, options: MedianBandwidthOptions = {}): number {
  const x = asPoints(points, 'medianBandwidth', { minRows: 2 });
  const maxPoints = requireInteger(options.maxPoints ?? 1000, 2, Number.MAX_SAFE_INTEGER, 'medianBandwidth', 'maxPoints');
  const sample = x.rows > maxPoints ? subsample(x, maxPoints, options.seed ?? 0) : x;
  const m = sample.rows;
  const d = sample.cols;
  const distances = new Float64Array((m * (m - 1)) / 2);
  let t = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (sample.data[i * d + k] - sample.data[j * d + k]) ** 2;
      distances[t++] = Math.sqrt(s);
    }
  }
  distances.sort();
  const mid = distances.length >> 1;
  const sigma = distances.length % 2 === 1 ? distances[mid] : 0.5 * (distances[mid - 1] + distances[mid]);
  if (!(sigma > 0)) {
    throw new InvalidConfigError('medianBandwidth: the median pairwise distance is 0 (over half the pairs are duplicates); give the bandwidth explicitly');
  }
  return sigma;
}

function subsample(x: Matrix, count: number, seed: number): Matrix {
  const rng = createRng(seed);
  const order = rng.shuffle(Array.from({ length: x.rows }, (_, i) => i)).slice(0, count);
  const out = new Float64Array(count * x.cols);
  order.forEach((row, i) => out.set(x.data.subarray(row * x.cols, (row + 1) * x.cols), i * x.cols));
  return { rows: count, cols: x.cols, data: out };
}
