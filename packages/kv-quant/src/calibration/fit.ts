import { createRng, InvalidConfigError } from '@kvkit/tensor-core';
import { outlierIndices } from '../kernels/outliers.js';
import { weightedKMeans, weightedKMeans1d } from '../numeric/kmeans.js';

/** The q-quantile (0…1) of sorted data, linearly interpolated. */
function quantileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Per (head, channel) range of calibration activations [heads, n, d], with the `trim` share of
 * extreme values (half at each end) left out. KVQuant's offline per-channel key normalization uses
 * the full range (trim 0): its sparse store keeps a fixed number of outliers per vector, so a
 * trimmed range would clip every further out-of-range entry. Returns center and half-range, [heads·d] each.
 */
export function fitChannelRanges(
  x: Float32Array,
  heads: number,
  n: number,
  d: number,
  trim: number
): { center: Float32Array; halfRange: Float32Array } {
  const center = new Float32Array(heads * d);
  const halfRange = new Float32Array(heads * d);
  const column = new Float64Array(n);
  for (let h = 0; h < heads; h++) {
    for (let c = 0; c < d; c++) {
      for (let t = 0; t < n; t++) column[t] = x[(h * n + t) * d + c];
      column.sort();
      const lo = quantileSorted(column, trim / 2);
      const hi = quantileSorted(column, 1 - trim / 2);
      center[h * d + c] = (lo + hi) / 2;
      halfRange[h * d + c] = (hi - lo) / 2;
    }
  }
  return { center, halfRange };
}

/**
 * A non-uniform datatype of 2^bits levels in [−1, 1] fitted to normalized samples by weighted 1-D
 * k-means (KVQuant's sensitivity-weighted nuqX), started from the uniform grid. Samples outside
 * [−1, 1] are clamped (they are the outliers the sparse store keeps).
 */
export function fitDatatype(samples: ArrayLike<number>, weights: ArrayLike<number> | undefined, bits: number): Float32Array {
  const k = 2 ** bits;
  if (samples.length < k) throw new InvalidConfigError(`fitDatatype: ${samples.length} samples cannot place ${k} levels`);
  const clamped = Float64Array.from(samples, (v) => Math.max(-1, Math.min(1, v)));
  const initial = Float64Array.from({ length: k }, (_, i) => (k === 1 ? 0 : -1 + (2 * i) / (k - 1)));
  return Float32Array.from(weightedKMeans1d(clamped, weights, initial));
}

/**
 * Coupled Quantization codebooks: for every head and group of `channels` consecutive channels, a
 * k-means codebook of 2^bits centroids over the calibration vectors of that group (weighted by
 * `channelWeights` [heads·d], the sensitivity of each channel, when given); the best of `restarts`
 * k-means runs (default 3). [heads, d/c, 2^bits, c].
 */
export function fitCodebooks(
  x: Float32Array,
  heads: number,
  n: number,
  d: number,
  channels: number,
  bits: number,
  options: { seed?: number; iterations?: number; restarts?: number; channelWeights?: Float64Array } = {}
): Float32Array {
  const groups = d / channels;
  const k = 2 ** bits;
  const out = new Float32Array(heads * groups * k * channels);
  const rng = createRng(options.seed ?? 0x5eed);
  const points = new Float64Array(n * channels);
  for (let h = 0; h < heads; h++) {
    for (let g = 0; g < groups; g++) {
      // Weighted distance through scaling: √w_c on each coordinate, undone on the centroids.
      const w = Float64Array.from({ length: channels }, (_, j) =>
        Math.sqrt(options.channelWeights ? Math.max(options.channelWeights[h * d + g * channels + j], 1e-12) : 1)
      );
      for (let t = 0; t < n; t++) for (let j = 0; j < channels; j++) points[t * channels + j] = x[(h * n + t) * d + g * channels + j] * w[j];
      const centers = weightedKMeans(points, channels, undefined, k, rng, options.iterations ?? 25, options.restarts ?? 3);
      for (let i = 0; i < k; i++)
        for (let j = 0; j < channels; j++) out[((h * groups + g) * k + i) * channels + j] = centers[i * channels + j] / w[j];
    }
  }
  return out;
}

/**
 * RotateKV's outlier-aware channel order for a group of heads: channels sorted by their calibration
 * magnitude (RMS) and dealt to the Hadamard blocks in a snake order, so every block gets an equal
 * share of the outlier channels before the rotation spreads them. Input: the group's vectors
 * [n, width] (width = headGroup · headDim); returns the new order (length width).
 */
export function outlierAwareOrder(rows: Float32Array, n: number, width: number, blockSize: number): Int32Array {
  const energy = new Float64Array(width);
  for (let t = 0; t < n; t++) for (let c = 0; c < width; c++) energy[c] += rows[t * width + c] ** 2;
  const byEnergy = Array.from({ length: width }, (_, c) => c).sort((a, b) => energy[b] - energy[a] || a - b);
  const blocks = width / blockSize;
  const slots: number[][] = Array.from({ length: blocks }, () => []);
  byEnergy.forEach((c, rank) => {
    const round = Math.floor(rank / blocks);
    const j = rank % blocks;
    slots[round % 2 === 0 ? j : blocks - 1 - j].push(c);
  });
  return Int32Array.from(slots.flat());
}

/**
 * Calibration vectors normalized the way a per-token min–max codec with `outliers` removed per
 * vector sees them (in groups of `groupSize` channels): the inlier samples a value datatype is
 * fitted on. [heads, n, d] in; the normalized inliers out (outliers skipped).
 */
export function normalizedTokenSamples(x: Float32Array, heads: number, n: number, d: number, groupSize: number, outliers: number): Float64Array {
  const out: number[] = [];
  for (let r = 0; r < heads * n; r++) {
    const base = r * d;
    let mean = 0;
    for (let c = 0; c < d; c++) mean += x[base + c];
    mean /= d;
    const skip = new Set(outliers ? outlierIndices(x, base, d, outliers, mean) : []);
    for (let g = 0; g < d; g += groupSize) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let c = g; c < g + groupSize; c++) {
        if (skip.has(c)) continue;
        lo = Math.min(lo, x[base + c]);
        hi = Math.max(hi, x[base + c]);
      }
      const center = (lo + hi) / 2;
      const half = (hi - lo) / 2;
      for (let c = g; c < g + groupSize; c++) if (!skip.has(c)) out.push(half > 0 ? (x[base + c] - center) / half : 0);
    }
  }
  return Float64Array.from(out);
}
