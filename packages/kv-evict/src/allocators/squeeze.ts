import { numberInRange } from '../budget.js';
import type { LayerAllocator } from './allocator.js';
import { kmeans1d } from './kmeans-1d.js';

/**
 * SqueezeAttention (Wang et al., 2024): a layer whose hidden state barely changes (high cosine
 * similarity between its input and output) matters less. The layers' cosines are clustered into
 * three groups (k-means); the group with the highest similarity keeps `squeeze` × its budget and the
 * freed tokens go evenly to the other layers. Computed after each prefill pass, fixed while decoding.
 *
 * The cosine needs hidden states: the runtime reports each layer's input through `observeLayer`
 * (see `CrossLayerState`), and the cosine of layer l is taken between the inputs of layers l and l+1
 * — the whole block (attention and MLP) rather than attention alone, because that is what the
 * runtime's hook shows; the last layer gets the mean of the others. Without hidden states the
 * allocation stays uniform and `allocation().source` says so.
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
        return { weights: new Float64Array(signals.length).fill(1), note: 'no hidden states observed (wire the runtime hook to observeLayer): uniform' };
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
