import { numberInRange } from '../budget.js';
import type { LayerAllocator } from './allocator.js';
import { kmeans1d } from './kmeans-1d.js';

/**
 * SqueezeAttention (Wang et al., 2024): a layer whose hidden state barely changes (high cosine
 * similarity between its input and output) matters less. The layers' cosines are clustered into
 * three groups (k-means); the group with the highest similarity keeps `squeeze` × its budget and the
 * freed tokens go evenly to the other layers. Computed after each prefill pass, fixed while decoding.
 *
 * The cosine needs hidden states: the runtime reports, through the contract's optional
 * `observeLayer` hook (@kvkit/llm calls it), each layer's hidden state before and after attention
 * and their per-token cosine; a layer's signal is its mean over the prefill tokens, as in the paper.
 * Without the hook the allocation stays uniform and `allocation().source` says so.
 */
export function squeezeAllocator(options: { squeeze?: number } = {}): LayerAllocator {
  const squeeze = numberInRange(options.squeeze ?? 0.5, 0, 1, 'squeeze', 'squeeze');
  return {
    name: 'squeeze',
    needs: 'hidden',
    reallocateEvery: 0,
    layerInterval: 0,
    allocate: (signals) => {
      const known = signals.map((s) => s.hiddenCosine).filter((c): c is number => c !== undefined);
      if (known.length === 0) {
        return { weights: new Float64Array(signals.length).fill(1), note: 'no hidden states observed (the runtime did not call observeLayer): uniform' };
      }
      const mean = known.reduce((a, b) => a + b, 0) / known.length;
      const cosines = signals.map((s) => s.hiddenCosine ?? mean);
      const groups = kmeans1d(cosines, 3);
      const top = Math.max(...groups);
      const squeezed = groups.filter((g) => g === top).length;
      const others = signals.length - squeezed;
      if (top === 0 || others === 0) return { weights: new Float64Array(signals.length).fill(1), note: 'all layers alike: uniform' };
      const raise = 1 + (squeezed * (1 - squeeze)) / others;
      return { weights: Float64Array.from(groups, (g) => (g === top ? squeeze : raise)), note: `${squeezed} layer(s) squeezed to ${squeeze}` };
    },
  };
}
