import { numberInRange } from '../budget.js';
import { type CompressionPolicy, droppedIndices, type PolicyFactory, shrinkHead } from './policy.js';
import { rowCosine, rowDistanceSquared, rowNorms, weightedRowMean } from './vectors.js';

export interface GaussianMergeOptions {
  /** Adjacent keys with cosine similarity ≥ this chain into one merging set (default 0.8). */
  threshold?: number;
  /** Gaussian kernel bandwidth; 0 (default) = the root-mean-square distance to the pivot within each set. */
  sigma?: number;
}

/**
 * KVMerger's merging (Wang et al., 2024). Merging sets are runs of consecutive tokens whose keys are
 * similar to their neighbour's (cosine ≥ threshold). A dropped token inside a run that holds a kept
 * token is merged into the nearest kept token of the run (the pivot) instead of being lost; the
 * pivot becomes Σ w_i x_i / Σ w_i over itself and its merged tokens, for keys and values, with
 * Gaussian-kernel weights w_i = exp(−‖k_i − k_pivot‖² / (2σ²)). Dropped tokens outside such runs are
 * evicted.
 */
export function gaussianMergePolicy(options: GaussianMergeOptions = {}): PolicyFactory {
  const threshold = numberInRange(options.threshold ?? 0.8, -1, 1, 'kvmerger', 'threshold');
  const sigma = numberInRange(options.sigma ?? 0, 0, Number.MAX_VALUE, 'kvmerger', 'sigma');
  return (layer): CompressionPolicy => {
    const d = layer.headDim;
    return {
      name: 'kvmerger',
      apply: (head, keep, context) => {
        const count = context.store.count(head);
        const { keys, values } = context.store.read(head);
        const sets = gaussianMergeSets(count, keep, keys, d, threshold);
        if (sets.length > 0) {
          for (const set of sets) {
            const weights = gaussianWeights(keys, set.pivot, set.members, d, sigma);
            context.store.write(head, set.pivot, weightedRowMean(keys, set.members, weights, d), weightedRowMean(values, set.members, weights, d));
          }
        }
        shrinkHead(head, keep, context);
      },
    };
  };
}

/** A kept token and the tokens merged into it (members include the pivot itself). */
export interface MergeSet {
  pivot: number;
  members: number[];
}

/**
 * Runs of adjacent tokens with key cosine ≥ threshold; inside a run, each dropped token joins the
 * nearest kept token (by storage distance, ties to the earlier one). Sets without a dropped token
 * are left out.
 */
export function gaussianMergeSets(count: number, keep: Int32Array, keys: Float32Array, d: number, threshold: number): MergeSet[] {
  const kept = new Uint8Array(count);
  for (const i of keep) kept[i] = 1;
  if (droppedIndices(count, keep).length === 0) return [];
  const norms = rowNorms(keys, d);
  const sets: MergeSet[] = [];
  let start = 0;
  for (let i = 1; i <= count; i++) {
    const breaks = i === count || rowCosine(keys, i - 1, i, d, norms) < threshold;
    if (!breaks) continue;
    const pivots: number[] = [];
    for (let j = start; j < i; j++) if (kept[j]) pivots.push(j);
    if (pivots.length > 0) {
      const byPivot = new Map<number, number[]>(pivots.map((p) => [p, [p]]));
      for (let j = start; j < i; j++) {
        if (kept[j]) continue;
        let best = pivots[0];
        for (const p of pivots) if (Math.abs(p - j) < Math.abs(best - j)) best = p;
        byPivot.get(best)!.push(j);
      }
      for (const [pivot, members] of byPivot) if (members.length > 1) sets.push({ pivot, members: members.sort((a, b) => a - b) });
    }
    start = i;
  }
  return sets;
}

/** exp(−‖k_i − k_pivot‖² / 2σ²) per member; σ = 0 picks the RMS distance to the pivot (all-equal keys give weight 1 each). */
export function gaussianWeights(keys: Float32Array, pivot: number, members: readonly number[], d: number, sigma: number): number[] {
  const distances = members.map((m) => rowDistanceSquared(keys, m, pivot, d));
  let s2 = sigma * sigma;
  if (sigma === 0) {
    const others = distances.filter((_, i) => members[i] !== pivot);
    s2 = others.length ? others.reduce((a, b) => a + b, 0) / others.length : 0;
  }
  return distances.map((dist) => (s2 > 0 ? Math.exp(-dist / (2 * s2)) : 1));
}
