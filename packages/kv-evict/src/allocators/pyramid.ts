import { numberInRange } from '../budget.js';
import type { LayerAllocator } from './allocator.js';

/**
 * PyramidKV's schedule (Cai et al., 2024; KVCache-Factory's formula): scored budgets fall linearly
 * with depth from max = (2 − 1/β)·B to min = B/β, mean B — lower layers attend broadly and keep
 * more, upper layers attend sharply and keep less. Static: depends on the layer index only.
 */
export function pyramidAllocator(options: { beta?: number } = {}): LayerAllocator {
  const beta = numberInRange(options.beta ?? 20, 1, 1e6, 'pyramidkv', 'beta');
  return {
    name: 'pyramidkv',
    needs: 'none',
    reallocateEvery: 0,
    layerInterval: 0,
    allocate: (signals, context) => {
      const L = context.numLayers;
      const top = 2 - 1 / beta;
      const step = L > 1 ? (2 - 2 / beta) / (L - 1) : 0;
      return { weights: Float64Array.from(signals, (s) => (L > 1 ? top - s.layerIndex * step : 1)) };
    },
  };
}
