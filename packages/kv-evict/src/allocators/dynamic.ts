import { nonNegativeInteger, numberInRange } from '../budget.js';
import { capWeights, type LayerAllocator, normalizeWeights } from './allocator.js';

/**
 * DynamicKV (Zhou et al., 2024): task-adaptive layer budgets. Every layer's per-head score
 * distribution goes into one pool; the top (layers × heads × scored budget) entries win and a
 * layer's budget is its share of the winners, capped at `maxWeight` × the uniform budget (the paper's
 * per-layer maximum). During a prefill pass the layers seen so far are reallocated every
 * `layerInterval` layers (earlier layers shrink while later ones keep everything until their turn),
 * and while decoding every `reallocateEvery` steps.
 */
export function dynamicAllocator(options: { layerInterval?: number; reallocateEvery?: number; maxWeight?: number } = {}): LayerAllocator {
  const layerInterval = nonNegativeInteger(options.layerInterval ?? 4, 'dynamickv', 'layerInterval');
  const reallocateEvery = nonNegativeInteger(options.reallocateEvery ?? 0, 'dynamickv', 'reallocateEvery');
  const maxWeight = numberInRange(options.maxWeight ?? 3, 1, 1e6, 'dynamickv', 'maxWeight');
  return {
    name: 'dynamickv',
    needs: 'scores',
    reallocateEvery,
    layerInterval,
    allocate: (signals, context) => {
      const slots = signals.length * context.kvHeads * context.scoredBudget;
      const pool: { value: number; layer: number }[] = [];
      signals.forEach((s, layer) => {
        for (const p of s.scores) for (const value of p) pool.push({ value, layer });
      });
      pool.sort((a, b) => b.value - a.value);
      const wins = new Float64Array(signals.length);
      for (let i = 0; i < Math.min(slots, pool.length); i++) wins[pool[i].layer]++;
      return { weights: capWeights(normalizeWeights(wins), maxWeight) };
    },
  };
}
