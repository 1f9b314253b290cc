import type { Rng } from '@kvkit/tensor-core';

/**
 * k-means on directions (cosine similarity), as ClusterKV clusters keys in semantic space: rows are
 * normalized, seeds drawn k-means++ style (probability ∝ 1 − best cosine), points assigned to the
 * most similar centroid, centroids = normalized means. Returns unit centroids [k, d] and each row's
 * cluster.
 */
export function sphericalKMeans(rows: Float32Array, d: number, k: number, rng: Rng, iterations = 10): { centroids: Float32Array; assignment: Int32Array } {
  const n = rows.length / d;
  const clusters = Math.max(1, Math.min(k, n));
  const unit = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += rows[i * d + c] ** 2;
    const norm = Math.sqrt(s) || 1;
    for (let c = 0; c < d; c++) unit[i * d + c] = rows[i * d + c] / norm;
  }
  const dot = (i: number, centroids: Float64Array, j: number): number => {
    let s = 0;
    for (let c = 0; c < d; c++) s += unit[i * d + c] * centroids[j * d + c];
    return s;
  };
  const centroids = new Float64Array(clusters * d);
  const best = new Float64Array(n).fill(-Infinity);
  let pick = rng.int(n);
  for (let j = 0; j < clusters; j++) {
    centroids.set(unit.subarray(pick * d, (pick + 1) * d), j * d);
    let total = 0;
    for (let i = 0; i < n; i++) {
      best[i] = Math.max(best[i], dot(i, centroids, j));
      total += Math.max(0, 1 - best[i]);
    }
    if (j + 1 === clusters) break;
    let target = rng.uniform() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      target -= Math.max(0, 1 - best[i]);
      if (target <= 0) {
        pick = i;
        break;
      }
    }
  }
  const assignment = new Int32Array(n);
  for (let it = 0; it < iterations; it++) {
    let moved = false;
    for (let i = 0; i < n; i++) {
      let arg = 0;
      let value = -Infinity;
      for (let j = 0; j < clusters; j++) {
        const s = dot(i, centroids, j);
        if (s > value) {
          value = s;
          arg = j;
        }
      }
      if (assignment[i] !== arg || it === 0) moved = moved || assignment[i] !== arg;
      assignment[i] = arg;
    }
    const sums = new Float64Array(clusters * d);
    for (let i = 0; i < n; i++) for (let c = 0; c < d; c++) sums[assignment[i] * d + c] += unit[i * d + c];
    for (let j = 0; j < clusters; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += sums[j * d + c] ** 2;
      if (s === 0) continue; // empty cluster keeps its centroid
      const norm = Math.sqrt(s);
      for (let c = 0; c < d; c++) centroids[j * d + c] = sums[j * d + c] / norm;
    }
    if (!moved && it > 0) break;
  }
  return { centroids: Float32Array.from(centroids), assignment };
}
