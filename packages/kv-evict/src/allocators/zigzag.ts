import { numberInRange } from '../budget.js';
import { type LayerAllocator, normalizeWeights } from './allocator.js';
import { tokensForMass } from './score-signals.js';

/**
 * ZigZagKV (Zhong et al., 2024): a layer's uncertainty is the budget it needs to retain `mass` of
 * its attention — the fewest tokens whose scores reach that share, averaged over heads — and
 * budgets follow it: w = floor + (1 − floor)·normalized(uncertainty). The paper's second view
 * (tokens needed to reproduce the hidden-state output) is not implemented; the attention view is.
 */
export function zigzagAllocator(options: { mass?: number; floor?: number } = {}): LayerAllocator {
  const mass = numberInRange(options.mass ?? 0.9, 0, 1, 'zigzag', 'mass');
  const floor = numberInRange(options.floor ?? 0.2, 0, 1, 'zigzag', 'floor');
  return {
    name: 'zigzag',
    needs: 'scores',
    reallocateEvery: 0,
    layerInterval: 0,
    allocate: (signals) => {
      const uncertainty = normalizeWeights(signals.map((s) => tokensForMass(s.scores, mass)));
      return { weights: uncertainty.map((u) => floor + (1 - floor) * u) };
    },
  };
}
