import { InvalidConfigError, type Rng } from '@kvkit/tensor-core';

/**
 * Weighted 1-D k-means (Lloyd), exact on sorted data: clusters of a 1-D k-means optimum are
 * contiguous runs, so assignment is a sweep over midpoints and the centroids come from prefix
 * sums. Starts from `initial` (sorted), returns the k sorted centroids. Empty clusters keep their
 * previous centroid. Deterministic.
 */
export function weightedKMeans1d(
  values: ArrayLike<number>,
  weights: ArrayLike<number> | undefined,
  initial: ArrayLike<number>,
  iterations = 500
): Float64Array {
  const n = values.length;
  const k = initial.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const xs = Float64Array.from(order, (i) => values[i]);
  const ws = Float64Array.from(order, (i) => (weights ? weights[i] : 1));
  const prefixW = new Float64Array(n + 1);
  const prefixWX = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    prefixW[i + 1] = prefixW[i] + ws[i];
    prefixWX[i + 1] = prefixWX[i] + ws[i] * xs[i];
  }
  const centers = Float64Array.from(initial).sort();
  const firstAtLeast = (t: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  for (let it = 0; it < iterations; it++) {
    let moved = 0;
    let start = 0;
    const ends = Array.from({ length: k }, (_, c) => (c === k - 1 ? n : firstAtLeast((centers[c] + centers[c + 1]) / 2)));
    for (let c = 0; c < k; c++) {
      const end = ends[c];
      const w = prefixW[end] - prefixW[start];
      if (w > 0 && end > start) {
        const next = (prefixWX[end] - prefixWX[start]) / w;
        moved = Math.max(moved, Math.abs(next - centers[c]));
        centers[c] = next;
      }
      start = Math.max(start, end);
    }
    centers.sort();
    if (moved <= 1e-12) break;
  }
  return centers;
}

/**
 * Weighted k-means of `n` points of dimension `dim` (row-major): k-means++ seeding from `rng`, Lloyd
 * iterations, and the best of `restarts` runs by weighted inertia. Returns k·dim centroid
 * coordinates; with fewer distinct points than k, extra centroids duplicate existing ones (codes
 * stay valid, they are just never the unique nearest).
 */
export function weightedKMeans(
  points: Float64Array,
  dim: number,
  weights: ArrayLike<number> | undefined,
  k: number,
  rng: Rng,
  iterations = 25,
  restarts = 1
): Float64Array {
  const n = points.length / dim;
  if (!Number.isInteger(n) || n === 0) throw new InvalidConfigError(`k-means: needs at least one point of dimension ${dim}`);
  let best: Float64Array | undefined;
  let bestInertia = Infinity;
  for (let run = 0; run < Math.max(1, restarts); run++) {
    const centers = lloyd(points, dim, n, weights, k, rng, iterations);
    let inertia = 0;
    for (let i = 0; i < n; i++) {
      const c = nearestCentroid(points, i * dim, centers, k, dim);
      let s = 0;
      for (let j = 0; j < dim; j++) s += (points[i * dim + j] - centers[c * dim + j]) ** 2;
      inertia += (weights ? weights[i] : 1) * s;
    }
    if (inertia < bestInertia) {
      bestInertia = inertia;
      best = centers;
    }
  }
  return best!;
}

function lloyd(
  points: Float64Array,
  dim: number,
  n: number,
  weights: ArrayLike<number> | undefined,
  k: number,
  rng: Rng,
  iterations: number
): Float64Array {
  const w = (i: number) => (weights ? weights[i] : 1);
  const centers = new Float64Array(k * dim);
  const dist2 = new Float64Array(n).fill(Infinity);
  const sqDist = (i: number, c: number): number => {
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const d = points[i * dim + j] - centers[c * dim + j];
      s += d * d;
    }
    return s;
  };
  // k-means++: the first center weighted by w, each next one by w · D².
  let total = 0;
  for (let i = 0; i < n; i++) total += w(i);
  let pick = sample(rng, n, (i) => w(i), total);
  for (let c = 0; c < k; c++) {
    centers.set(points.subarray(pick * dim, (pick + 1) * dim), c * dim);
    if (c === k - 1) break;
    let mass = 0;
    for (let i = 0; i < n; i++) {
      dist2[i] = Math.min(dist2[i], sqDist(i, c));
      mass += w(i) * dist2[i];
    }
    pick = mass > 0 ? sample(rng, n, (i) => w(i) * dist2[i], mass) : rng.int(n);
  }
  const assign = new Int32Array(n);
  const sums = new Float64Array(k * dim);
  const mass = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    let changed = it === 0;
    for (let i = 0; i < n; i++) {
      const best = nearestCentroid(points, i * dim, centers, k, dim);
      if (best !== assign[i]) changed = true;
      assign[i] = best;
    }
    if (!changed) break;
    sums.fill(0);
    mass.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assign[i];
      mass[c] += w(i);
      for (let j = 0; j < dim; j++) sums[c * dim + j] += w(i) * points[i * dim + j];
    }
    for (let c = 0; c < k; c++) {
      if (mass[c] <= 0) continue;
      for (let j = 0; j < dim; j++) centers[c * dim + j] = sums[c * dim + j] / mass[c];
    }
  }
  return centers;
}

/** Index of the centroid nearest to `points[offset … offset + dim)` (squared Euclidean; ties → lowest index). */
export function nearestCentroid(
  points: ArrayLike<number>,
  offset: number,
  centers: ArrayLike<number>,
  k: number,
  dim: number,
  centerOffset = 0
): number {
  let best = 0;
  let bestDist = Infinity;
  for (let c = 0; c < k; c++) {
    let s = 0;
    const base = centerOffset + c * dim;
    for (let j = 0; j < dim; j++) {
      const d = points[offset + j] - centers[base + j];
      s += d * d;
    }
    if (s < bestDist) {
      bestDist = s;
      best = c;
    }
  }
  return best;
}

function sample(rng: Rng, n: number, weight: (i: number) => number, total: number): number {
  let target = rng.uniform() * total;
  for (let i = 0; i < n; i++) {
    target -= weight(i);
    if (target < 0) return i;
  }
  return n - 1;
}
