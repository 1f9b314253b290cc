import { createCache, denseCache, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KVCalibrationSet, cla, claPlan, eigenAttention, fitEigenAttention, kvSharer, layerDistances, planKVSharer, searchKVSharer, sharedLayerCount, sharedLayers } from '../src/index.js';
import { backend, positions, randomTensor, randomValues, referenceAttention, specOf, syntheticCalibration } from './helpers.js';

/** Four layers whose caches are copies of two patterns: layers 0/2 alike, 1/3 alike, the pairs far apart. */
function patternedSet(rng: Parameters<typeof randomTensor>[0]): KVCalibrationSet {
  const set = new KVCalibrationSet({ numLayers: 4, qHeads: 4, kvHeads: 2, headDim: 8, maxTokens: 20 });
  const a = randomValues(rng, 2 * 20 * 8);
  const b = Float32Array.from(randomValues(rng, 2 * 20 * 8), (x) => 5 * x + 3);
  for (let l = 0; l < 4; l++) {
    const base = l % 2 === 0 ? a : b;
    const noisy = Float32Array.from(base, (x) => x + 0.01 * (l + 1) * rng.normal());
    set.add({ layerIndex: l, key: tensor(noisy, [2, 20, 8], { backend }), value: tensor(noisy, [2, 20, 8], { backend }) });
  }
  return set;
}

describe('cross-layer sharing', () => {
  it('CLA pairs adjacent layers; a consumer attends with its own queries over its source cache and holds nothing', () =>
    withSeed((rng) => {
      expect(claPlan(5, 2).sourceOf).toEqual([0, 0, 2, 2, 4]);
      expect(claPlan(5, 3).sourceOf).toEqual([0, 0, 0, 3, 3]);
      const spec = specOf({ numLayers: 3 });
      const factory = cla({ base: denseCache({ dtype: 'f32' }) });
      const cache = createCache(spec, factory);
      const other = createCache(spec, factory);
      const k = randomTensor(rng, [2, 6, 8]);
      const v = randomTensor(rng, [2, 6, 8]);
      cache.layers[0].append(k, v, { positions: positions(0, 6), phase: 'prefill' });
      cache.layers[1].append(randomTensor(rng, [2, 6, 8]), randomTensor(rng, [2, 6, 8]), { positions: positions(0, 6), phase: 'prefill' });
      expect(cache.layers[1].length).toBe(6);
      expect(other.layers[1].length).toBe(0);
      const q = randomTensor(rng, [4, 2, 8]);
      const ref = referenceAttention(q, k.readFloat32Sync(), v.readFloat32Sync(), 2, positions(4, 2), positions(0, 6)).output;
      assertClose(cache.layers[1].attend(q, { positions: positions(4, 2) }).output.readSync(), ref.readSync(), 1e-6);
      const memory = cache.memory();
      expect(memory.layers[1].bytes).toBe(0);
      expect(memory.layers[2].bytes).toBeGreaterThan(0);
      expect(memory.bytes).toBe(memory.layers[0].bytes + memory.layers[2].bytes);
      expect(() => cache.layers[1].append(randomTensor(rng, [3, 1, 8]), v, { positions: positions(6, 1), phase: 'decode' })).toThrow(
        expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
      );
      cache.dispose();
      expect(() => cache.layers[1].attend(q, { positions: positions(4, 2) })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    }));

  it('shares any cache method: consumers of a low-rank source see its keys the way it stores them', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 2 });
      const projections = fitEigenAttention(syntheticCalibration(rng, spec, 30, 3).set);
      const cache = createCache(spec, sharedLayers({ sourceOf: [0, 0] }, eigenAttention({ projections, rank: 4, storage: { dtype: 'f32' } })));
      expect(cache.layers[1].keyInput).toBe(cache.layers[0].keyInput);
      cache.layers[0].append(randomTensor(rng, [2, 5, 8]), randomTensor(rng, [2, 5, 8]), { positions: positions(0, 5), phase: 'prefill' });
      const q = randomTensor(rng, [4, 1, 8]);
      expect(cache.layers[1].attend(q, { positions: positions(4, 1) }).output.readSync()).toEqual(cache.layers[0].attend(q, { positions: positions(4, 1) }).output.readSync());
    }));

  it('KVSharer: distances by the direct formula, the most dissimilar pairs shared first, optional checks', () =>
    withSeed(async (rng) => {
      const set = patternedSet(rng);
      const distances = layerDistances(set);
      const direct = (i: number, j: number) => {
        let s = 0;
        for (const kind of ['key', 'value'] as const) {
          const a = set.samples(i, kind);
          const b = set.samples(j, kind);
          for (let x = 0; x < a.length; x++) s += (a[x] - b[x]) ** 2;
        }
        return Math.sqrt(s / 20);
      };
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(distances[i * 4 + j]).toBeCloseTo(i === j ? 0 : direct(i, j), 3);
      const plan = planKVSharer(set, 2);
      expect(sharedLayerCount(plan)).toBe(2);
      // Every shared pair joins a layer of one pattern with a layer of the other.
      plan.sourceOf.forEach((s, l) => expect(s === l || (s % 2) !== (l % 2)).toBe(true));
      const rejected: number[][] = [];
      const result = await searchKVSharer(set, {
        shared: 1,
        threshold: 0.5,
        evaluate: (p) => {
          const consumer = p.sourceOf.findIndex((s, l) => s !== l);
          if (consumer !== 3) rejected.push(p.sourceOf);
          return consumer === 3 ? 0.1 : 0.9;
        },
      });
      expect(result.pairs.length).toBe(1);
      expect(result.pairs[0][1]).toBe(3);
      expect(result.evaluations).toBe(rejected.length + 1);
      const cache = createCache(specOf({ numLayers: 4 }), kvSharer({ plan: result.plan }));
      expect(cache.layers[3].memory().bytes).toBe(0);
    }));

  it('refuses impossible plans and out-of-order builds', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 3 });
      const bad: [() => unknown, string][] = [
        [() => sharedLayers({ sourceOf: [0, 2, 2] }), 'INVALID_CONFIG'],
        [() => sharedLayers({ sourceOf: [0, 0, 1] }), 'INVALID_CONFIG'],
        [() => sharedLayers({ sourceOf: [1, 1] }), 'INVALID_CONFIG'],
        [() => sharedLayers(undefined as never), 'INVALID_CONFIG'],
        [() => kvSharer({ plan: { sourceOf: [0, 0.5] } }), 'INVALID_CONFIG'],
        [() => createCache(spec, sharedLayers({ sourceOf: [0, 0] })), 'INVALID_CONFIG'],
        [() => sharedLayers({ sourceOf: [0, 0, 2] })({ ...spec, layerIndex: 1 }), 'INVALID_CONFIG'],
        [() => cla({ factor: 0 }), 'INVALID_CONFIG'],
        [() => cla()({ ...spec, layerIndex: 1 }), 'INVALID_CONFIG'],
        [() => claPlan(0), 'INVALID_CONFIG'],
        [() => planKVSharer(patternedSet(rng), 4), 'INVALID_CONFIG'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
      const uneven = new KVCalibrationSet({ numLayers: 2, qHeads: 2, kvHeads: 1, headDim: 2 });
      uneven.add({ layerIndex: 0, value: randomTensor(rng, [1, 3, 2]), key: randomTensor(rng, [1, 3, 2]) });
      expect(() => layerDistances(uneven)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => layerDistances(new KVCalibrationSet({ numLayers: 2, qHeads: 2, kvHeads: 1, headDim: 2 }))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      return expect(searchKVSharer(patternedSet(rng), { shared: 1, evaluate: () => 0 })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    }));
});
