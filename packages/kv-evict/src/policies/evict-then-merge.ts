import { numberInRange } from '../budget.js';
import { type CompressionPolicy, droppedIndices, type PolicyFactory, shrinkHead } from './policy.js';
import { nearestByCosine, weightedRowMean } from './vectors.js';

/**
 * EMS's evict-then-merge, per head (Li et al., 2024): of the tokens that do not fit the budget, the
 * least important share `evict` is dropped outright; the others are merged into the kept token with
 * the most similar key, weighted by their scores (x_c ← Σ s_i x_i / Σ s_i over c and its merged
 * tokens; equal weights when every score is 0). Ragged per-head storage makes EMS's "zero-class"
 * padding (which lets heads compress different amounts in one batched kernel) unnecessary.
 */
export function evictThenMergePolicy(options: { evict?: number } = {}): PolicyFactory {
  const evictShare = numberInRange(options.evict ?? 0.5, 0, 1, 'ems', 'evict');
  return (layer): CompressionPolicy => {
    const d = layer.headDim;
    return {
      name: 'ems',
      apply: (head, keep, context) => {
        const drop = Array.from(droppedIndices(context.store.count(head), keep));
        const scores = context.scores;
        drop.sort((a, b) => scores[a] - scores[b] || a - b);
        const toMerge = drop.slice(Math.round(evictShare * drop.length));
        if (toMerge.length > 0 && keep.length > 0) {
          const { keys, values } = context.store.read(head);
          const { target } = nearestByCosine(keys, toMerge, keep, d);
          const groups = new Map<number, number[]>();
          toMerge.forEach((i, r) => groups.set(target[r], [...(groups.get(target[r]) ?? [target[r]]), i]));
          for (const [c, members] of groups) {
            const raw = members.map((i) => Math.max(0, scores[i]));
            const weights = raw.some((w) => w > 0) ? raw : raw.map(() => 1);
            context.store.write(head, c, weightedRowMean(keys, members, weights, d), weightedRowMean(values, members, weights, d));
          }
        }
        shrinkHead(head, keep, context);
      },
    };
  };
}
