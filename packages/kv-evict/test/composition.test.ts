import { denseCache, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type CompressingLayer, demotePolicy, h2o, raggedDenseStore, snapKV } from '../src/index.js';
import { backend, f32, layerSpec, positions, randomArray } from './helpers.js';

const d = 8;
const spec = layerSpec({ qHeads: 4, kvHeads: 2, headDim: d });

describe('evict + a storage format (the place a quantized store plugs in)', () => {
  it('the same selection on a cheaper store holds the same tokens in fewer bytes', () =>
    withSeed((rng) => {
      const n = 64;
      const k = randomArray(rng, 2 * n * d);
      const v = randomArray(rng, 2 * n * d);
      const q = randomArray(rng, 4 * n * d);
      const run = (dtype: 'f16' | 'f32') => {
        const layer = snapKV({ budget: 0.25, observationWindow: 8, store: raggedDenseStore({ dtype }) })(spec) as CompressingLayer;
        layer.append(tensor(k, [2, n, d], { backend }), tensor(v, [2, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
        layer.attend(tensor(q, [4, n, d], { backend }), { positions: positions(0, n) });
        return layer;
      };
      const wide = run('f32');
      const narrow = run('f16');
      expect(narrow.storedTokens()).toEqual([16, 16]);
      expect(narrow.memory().parts.keys * 2).toBe(wide.memory().parts.keys);
      expect(narrow.memory().parts.values * 2).toBe(wide.memory().parts.values);
    }));

  it('demote instead of drop: unselected tokens move to a second tier that attention still reads', () =>
    withSeed((rng) => {
      const n = 40;
      const layer = h2o({ budget: 10, store: raggedDenseStore({ dtype: 'f32' }), policy: demotePolicy(raggedDenseStore({ dtype: 'f32' })) })(spec) as CompressingLayer;
      const dense = denseCache({ dtype: 'f32' })(spec);
      const k = tensor(randomArray(rng, 2 * n * d), [2, n, d], { backend });
      const v = tensor(randomArray(rng, 2 * n * d), [2, n, d], { backend });
      for (const l of [layer, dense]) l.append(k, v, { positions: positions(0, n), phase: 'prefill' });
      const q = tensor(randomArray(rng, 4 * n * d), [4, n, d], { backend });
      layer.attend(q, { positions: positions(0, n) });
      expect(layer.storedTokens()).toEqual([10, 10]);
      const memory = layer.memory().parts;
      expect(memory['demoted.keys']).toBe(2 * 30 * d * 4);
      expect(memory.keys).toBe(2 * 10 * d * 4);
      // Both tiers are full precision here, so attention over them equals the dense cache.
      const next = tensor(randomArray(rng, 4 * d), [4, 1, d], { backend });
      const ours = layer.attend(next, { positions: Int32Array.of(n - 1) }).output;
      const reference = dense.attend(next, { positions: Int32Array.of(n - 1) }).output;
      assertClose(f32(ours), f32(reference), 1e-6, 'two tiers vs dense');
    }));
});
