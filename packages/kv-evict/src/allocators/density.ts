import { numberInRange } from '../budget.js';
import { type LayerAllocator, normalizeWeights } from './allocator.js';
import { attentionDensity } from './score-signals.js';

/**
 * D2O's layer level (Wan et al., 2024): layers whose attention is dense (spread over many tokens,
 * typically the shallow ones) are evicted less. Weight = floor + (1 − floor)·normalized(density),
 * density from `attentionDensity`.
 */
export function densityAllocator(options: { floor?: number } = {}): LayerAllocator {
  const floor = numberInRange(options.floor ?? 0.2, 0, 1, 'd2o', 'floor');
  return {
    name: 'd2o-density',
    needs: 'scores',
    reallocateEvery: 0,
    layerInterval: 0,
    allocate: (signals) => ({ weights: normalizeWeights(signals.map((s) => attentionDensity(s.scores))).map((w) => floor + (1 - floor) * w) }),
  };
}
