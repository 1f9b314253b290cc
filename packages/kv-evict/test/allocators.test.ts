import { createCache, InvalidConfigError, tensor } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import {
  attentionDensity,
  type CompressingLayer,
  d2o,
  densityAllocator,
  dynamicAllocator,
  dynamicKV,
  h2o,
  kmeans1d,
  type LayerSignal,
  pyramidKV,
  squeezeAttention,
  tokensForMass,
  zigzagAllocator,
  zigzagKV,
} from '../src/index.js';
import { backend, cacheSpec, positions, randomArray } from './helpers.js';

const d = 8;

/**
 * Random K/V through every layer, attended by random queries; in the layers where `sink(l)` holds,
 * every query is 3·k₀ of its KV head (k₀ scaled by 3), so all attention lands on token 0.
 */
function prefill(
  cache: ReturnType<typeof createCache>,
  rng: Parameters<Parameters<typeof withSeed>[0]>[0],
  n: number,
  afterLayer?: (l: number) => void,
  sink: (l: number) => boolean = () => false,
) {
  cache.layers.forEach((layer, l) => {
    const keys = randomArray(rng, 2 * n * d);
    const queries = randomArray(rng, 4 * n * d, 3);
    if (sink(l)) {
      for (let h = 0; h < 2; h++) for (let c = 0; c < d; c++) keys[h * n * d + c] *= 3;
      for (let h = 0; h < 4; h++) for (let i = 0; i < n; i++) for (let c = 0; c < d; c++) queries[(h * n + i) * d + c] = 3 * keys[(h >> 1) * n * d + c];
    }
    layer.append(tensor(keys, [2, n, d], { backend }), tensor(randomArray(rng, 2 * n * d), [2, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
    layer.attend(tensor(queries, [4, n, d], { backend }), { positions: positions(0, n) });
    afterLayer?.(l);
  });
}

const stored = (cache: ReturnType<typeof createCache>) => cache.layers.map((l) => (l as CompressingLayer).storedTokens()[0]);

describe('layer budget allocators', () => {
  it('PyramidKV: budgets fall linearly with depth (KVCache-Factory formula), same total as uniform', () =>
    withSeed((rng) => {
      const cache = createCache(cacheSpec({ numLayers: 4 }), pyramidKV({ budget: 0.5, scorer: 'h2o', sinks: 0, recent: 4 }));
      // β = 20: scored weights (2 − 1/β) − l·(2 − 2/β)/3 = 1.95, 1.3167, 0.6833, 0.05.
      const weights = cache.layers.map((l) => (l as CompressingLayer).allocation().weight);
      [1.95, 1.95 - 1.9 / 3, 1.95 - 3.8 / 3, 0.05].forEach((w, l) => expect(weights[l]).toBeCloseTo(w, 12));
      prefill(cache, rng, 100);
      // 100 tokens, budget 50, 4 protected: 4 + round(46 · w).
      expect(stored(cache)).toEqual([94, 65, 35, 6]);
      expect(stored(cache).reduce((a, b) => a + b, 0)).toBe(4 * 50);
    }));

  it('SqueezeAttention: the layers whose hidden state barely changes are squeezed (hidden states from the runtime hook)', () =>
    withSeed((rng) => {
      const n = 40;
      // Each token's hidden state before attention is e0; after it, e0·cos + e1·sin: per-layer cosines 0, 0, 1, 1/3.
      const observation = (cosine: number) => {
        const before = new Float32Array(n * 16);
        const after = new Float32Array(n * 16);
        for (let t = 0; t < n; t++) {
          before[t * 16] = 1;
          after[t * 16] = cosine;
          after[t * 16 + 1] = Math.sqrt(1 - cosine * cosine);
        }
        return {
          positions: positions(0, n),
          phase: 'prefill' as const,
          hiddenIn: tensor(before, [n, 16], { backend }),
          hiddenOut: tensor(after, [n, 16], { backend }),
          cosine: tensor(new Float32Array(n).fill(cosine), [n], { backend }),
        };
      };
      const cosines = [0, 0, 1, 1 / 3];
      const cache = createCache(cacheSpec({ numLayers: 4 }), squeezeAttention({ budget: 0.5, sinks: 0, recent: 4, squeeze: 0.5 }));
      prefill(cache, rng, n, (l) => {
        if (l === 3) expect(stored(cache)[0]).toBe(n); // still waiting for the last layer's observation
        cache.layers[l].observeLayer?.(observation(cosines[l]));
      });
      const weights = cache.layers.map((l) => (l as CompressingLayer).allocation().weight);
      [7 / 6, 7 / 6, 0.5, 7 / 6].forEach((w, l) => expect(weights[l]).toBeCloseTo(w, 12));
      expect(stored(cache).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4 * 20 - 2);
      expect(stored(cache)[2]).toBe(4 + 8); // 4 protected + round(16 · 0.5)

      const unhooked = createCache(cacheSpec({ numLayers: 4 }), squeezeAttention({ budget: 0.5 }));
      prefill(unhooked, rng, n);
      const allocation = (unhooked.layers[0] as CompressingLayer).allocation();
      expect(allocation.weight).toBe(1);
      expect(allocation.source).toContain('no hidden states observed');
    }));

  it('ZigZagKV, D2O and DynamicKV weights on hand-made score distributions', () => {
    const peaked = Float64Array.of(0.9, 0.05, 0.05);
    const flat = Float64Array.of(1 / 3, 1 / 3, 1 / 3);
    const signals: LayerSignal[] = [
      { layerIndex: 0, scores: [peaked] },
      { layerIndex: 1, scores: [flat] },
    ];
    const context = { numLayers: 2, kvHeads: 1, scoredBudget: 2 };
    expect(tokensForMass([peaked], 0.9)).toBe(1);
    expect(tokensForMass([flat], 0.9)).toBe(3);
    // Uncertainty 1 vs 3 → normalized 0.5, 1.5 → 0.2 + 0.8·w.
    expect([...zigzagAllocator({ mass: 0.9, floor: 0.2 }).allocate(signals, context).weights]).toEqual([0.6, 1.4].map((w) => expect.closeTo(w, 12)));
    // Density 1/(n Σp²): 1/(3·0.815) and 1.
    const dense = [1 / (3 * 0.815), 1];
    expect(attentionDensity([peaked])).toBeCloseTo(dense[0], 12);
    const total = dense[0] + dense[1];
    expect([...densityAllocator({ floor: 0.2 }).allocate(signals, context).weights]).toEqual(dense.map((x) => expect.closeTo(0.2 + 0.8 * ((2 * x) / total), 12)));
    // DynamicKV: 4 slots; the pool's top 4 are 0.9 (layer 0) and three 1/3 (layer 1) → wins 1 : 3.
    expect([...dynamicAllocator().allocate(signals, context).weights]).toEqual([0.5, 1.5]);
  });

  it('k-means on layer cosines groups the close values', () => {
    expect(kmeans1d([0, 0.02, 0.99, 0.5], 3)).toEqual([0, 0, 2, 1]);
    expect(kmeans1d([0.3, 0.3, 0.3], 3)).toEqual([0, 0, 0]);
  });

  it.each([
    ['dynamickv', () => dynamicKV({ budget: 0.25, scorer: 'h2o', sinks: 0, recent: 4, layerInterval: 2 })],
    ['zigzag', () => zigzagKV({ budget: 0.25, scorer: 'h2o', sinks: 0, recent: 4 })],
    ['d2o', () => d2o({ budget: 0.25, sinks: 0, recent: 4 })],
  ])('%s keeps the uniform total (equal bytes) with unequal layers', (_name, make) =>
    withSeed((rng) => {
      const n = 80;
      const cache = createCache(cacheSpec({ numLayers: 4 }), make());
      const uniform = createCache(cacheSpec({ numLayers: 4 }), h2o({ budget: 0.25, sinks: 0, recent: 4 }));
      // Odd layers put all their attention on one token, even layers spread it: layers that really
      // differ, so the allocator must give them unequal budgets (alike random layers can tie by chance).
      const sink = (l: number) => l % 2 === 1;
      prefill(cache, rng, n, undefined, sink);
      prefill(uniform, rng, n, undefined, sink);
      const total = stored(cache).reduce((a, b) => a + b, 0);
      const uniformTotal = stored(uniform).reduce((a, b) => a + b, 0);
      expect(Math.abs(total - uniformTotal)).toBeLessThanOrEqual(4); // rounding, at most one token per layer
      expect(total).toBeLessThanOrEqual(uniformTotal + 2);
      const weights = cache.layers.map((l) => (l as CompressingLayer).allocation().weight);
      expect(weights.some((w) => Math.abs(w - 1) > 1e-3)).toBe(true);
    }),
  );

  it('adaptive head budgets keep the layer total of uniform heads, split by score', () =>
    withSeed((rng) => {
      const n = 60;
      const spec = cacheSpec({ numLayers: 1 });
      const adaptive = createCache(spec, h2o({ budget: 0.25, heads: 'adaptive', sinks: 0, recent: 2 }));
      prefill(adaptive, rng, n);
      const counts = (adaptive.layers[0] as CompressingLayer).storedTokens();
      expect(counts[0] + counts[1]).toBe(2 * 15);
    }));

  it('cross-layer methods refuse layers built out of order', () => {
    const factory = pyramidKV({ budget: 0.5 });
    expect(() => factory({ ...cacheSpec({ numLayers: 4 }), layerIndex: 2 })).toThrow(InvalidConfigError);
  });
});
