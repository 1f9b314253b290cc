import type { StatisticsAttrs } from '../ops/attention-types.js';

/**
 * Per-query weights of the statistics pass, as the CPU kernels define them: queries before
 * `first` (outside the observation window) do not contribute; query i ≥ first adds
 * weights[i − first] (or decay^(m−1−i)) · p to keySum; the last `rowProbabilities` contributing
 * queries also have their probability rows returned, from query `firstRow` on.
 */
export function statisticsWeights(stats: StatisticsAttrs, m: number): { first: number; firstRow: number; weights: Float32Array } {
  const first = stats.window > 0 ? Math.max(0, m - stats.window) : 0;
  const weights = new Float32Array(Math.max(m, 1));
  for (let i = first; i < m; i++) weights[i] = stats.weights ? stats.weights[i - first] : stats.decay ** (m - 1 - i);
  return { first, firstRow: m - stats.rowProbabilities, weights };
}
