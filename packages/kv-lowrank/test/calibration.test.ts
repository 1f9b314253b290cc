import { matrix, tensor } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KVCalibrationSet } from '../src/index.js';
import { backend, randomMatrix, randomTensor, randomValues } from './helpers.js';

const shape = { numLayers: 2, qHeads: 4, kvHeads: 2, headDim: 4 };

function event(rng: Parameters<typeof randomTensor>[0], n: number, layerIndex = 0) {
  return {
    layerIndex,
    q: randomTensor(rng, [4, n, 4]),
    keyPreRope: randomTensor(rng, [2, n, 4]),
    key: randomTensor(rng, [2, n, 4]),
    value: randomTensor(rng, [2, n, 4]),
  };
}

describe('KVCalibrationSet', () => {
  it('stores the first maxTokens tokens per layer, heads-first, across events', () =>
    withSeed((rng) => {
      const set = new KVCalibrationSet({ ...shape, maxTokens: 7 });
      const a = event(rng, 5);
      const b = event(rng, 4);
      expect(set.add(a)).toBe(5);
      expect(set.add(0, b)).toBe(2);
      expect(set.add(b)).toBe(0);
      expect(set.tokens(0)).toBe(7);
      expect(set.tokens(1)).toBe(0);
      const keys = set.samples(0, 'key');
      const ka = a.key.readFloat32Sync();
      const kb = b.key.readFloat32Sync();
      for (let h = 0; h < 2; h++) {
        for (let t = 0; t < 7; t++) {
          const expected = t < 5 ? ka.subarray((h * 5 + t) * 4, (h * 5 + t + 1) * 4) : kb.subarray((h * 4 + t - 5) * 4, (h * 4 + t - 4) * 4);
          expect(Array.from(keys.subarray((h * 7 + t) * 4, (h * 7 + t + 1) * 4))).toEqual(Array.from(expected));
        }
      }
      expect(set.samples(0, 'query').length).toBe(4 * 7 * 4);
      expect(set.sampleKinds).toEqual(['key', 'keyPreRope', 'value', 'query']);
    }));

  it('round-trips through JSON, samples and weights bit for bit', () =>
    withSeed((rng) => {
      const set = new KVCalibrationSet({ ...shape, maxTokens: 16, rope: { invFreq: Float32Array.of(1, 0.1), layout: 'half' } });
      set.add(event(rng, 6, 0));
      set.add(event(rng, 6, 1));
      set.setWeights(1, { k: randomMatrix(rng, 8, 5), v: randomMatrix(rng, 8, 5), o: randomMatrix(rng, 5, 16) });
      set.setWeights(1, { q: tensor(randomValues(rng, 16 * 5), [16, 5], { backend }) });
      const loaded = KVCalibrationSet.load(JSON.parse(JSON.stringify(set.toJSON())));
      for (let l = 0; l < 2; l++) {
        for (const kind of ['key', 'keyPreRope', 'value', 'query'] as const) expect(loaded.samples(l, kind)).toEqual(set.samples(l, kind));
      }
      for (const name of ['k', 'v', 'q', 'o'] as const) expect(loaded.weights(1)[name]).toEqual(set.weights(1)[name]);
      expect(loaded.weights(0)).toEqual({});
      expect(loaded.rope).toEqual(set.rope);
      expect(loaded.maxTokens).toBe(16);
    }));

  it('keeps hidden states only when asked', () =>
    withSeed((rng) => {
      const hidden = randomTensor(rng, [3, 10]);
      const without = new KVCalibrationSet(shape);
      without.add({ ...event(rng, 3), hidden });
      expect(without.has('hidden')).toBe(false);
      const withHidden = new KVCalibrationSet({ ...shape, keepHidden: true });
      withHidden.add({ ...event(rng, 3), hidden });
      expect(withHidden.samples(0, 'hidden')).toEqual(hidden.readFloat32Sync());
      const loaded = KVCalibrationSet.load(JSON.parse(JSON.stringify(withHidden.toJSON())));
      expect(loaded.samples(0, 'hidden')).toEqual(hidden.readFloat32Sync());
    }));

  it('refuses bad input with typed errors and stays unchanged', () =>
    withSeed((rng) => {
      const set = new KVCalibrationSet(shape);
      set.add(event(rng, 3));
      const before = set.samples(0, 'key').slice();
      const good = event(rng, 2);
      const bad: [() => unknown, string][] = [
        [() => set.add({ ...good, layerIndex: 2 }), 'INDEX_OUT_OF_RANGE'],
        [() => set.add(-1, good), 'INDEX_OUT_OF_RANGE'],
        [() => set.add({ ...good, key: randomTensor(rng, [3, 2, 4]) }), 'SHAPE_MISMATCH'],
        [() => set.add({ ...good, q: randomTensor(rng, [4, 3, 4]) }), 'SHAPE_MISMATCH'],
        [() => set.add({ layerIndex: 0, value: good.value, key: good.key }), 'INVALID_CONFIG'],
        [() => set.add({ ...good, value: tensor([NaN, ...new Array(15).fill(0)], [2, 2, 4], { backend }) }), 'INVALID_CONFIG'],
        [() => set.add({ ...good, value: tensor(new Int32Array(16), [2, 2, 4], { dtype: 'i32', backend }) }), 'INVALID_CONFIG'],
        [() => set.add(0, undefined), 'INVALID_CONFIG'],
        [() => set.samples(1, 'key'), 'INVALID_CONFIG'],
        [() => set.samples(0, 'hidden'), 'INVALID_CONFIG'],
        [() => set.setWeights(0, { k: randomMatrix(rng, 7, 5) }), 'SHAPE_MISMATCH'],
        [() => set.setWeights(0, { k: randomMatrix(rng, 8, 5), v: randomMatrix(rng, 8, 6) }), 'SHAPE_MISMATCH'],
        [() => set.setWeights(0, { o: randomMatrix(rng, 5, 15) }), 'SHAPE_MISMATCH'],
        [() => set.setWeights(0, { k: matrix(8, 2, new Array(16).fill(Infinity)) }), 'INVALID_CONFIG'],
        [() => set.setWeights(0, { k: tensor(new Float32Array(8), [8], { backend }) }), 'SHAPE_MISMATCH'],
        [() => new KVCalibrationSet({ ...shape, kvHeads: 3 }), 'INVALID_CONFIG'],
        [() => new KVCalibrationSet({ ...shape, headDim: 0 }), 'INVALID_CONFIG'],
        [() => new KVCalibrationSet({ ...shape, maxTokens: 0 }), 'INVALID_CONFIG'],
        [() => new KVCalibrationSet({ ...shape, rope: { invFreq: new Float32Array(3), layout: 'half' } }), 'INVALID_CONFIG'],
        [() => new KVCalibrationSet({ ...shape, rope: { invFreq: new Float32Array(2), layout: 'x' as 'half' } }), 'INVALID_CONFIG'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
      expect(set.tokens(0)).toBe(3);
      expect(set.samples(0, 'key')).toEqual(before);
      expect(set.weights(0)).toEqual({});
    }));

  it('rejects corrupt JSON with CorruptModelFileError', () =>
    withSeed((rng) => {
      const set = new KVCalibrationSet(shape);
      set.add(event(rng, 2));
      set.setWeights(0, { k: randomMatrix(rng, 8, 3) });
      const good = JSON.parse(JSON.stringify(set.toJSON()));
      const corrupt = [
        null,
        { ...good, format: 'other' },
        { ...good, version: 2 },
        { ...good, kvHeads: 3 },
        { ...good, kinds: ['keys'] },
        { ...good, layers: good.layers.slice(1) },
        { ...good, layers: [{ ...good.layers[0], tokens: -1 }, good.layers[1]] },
        { ...good, layers: [{ ...good.layers[0], samples: { ...good.layers[0].samples, key: 'AAAA' } }, good.layers[1]] },
        { ...good, layers: [{ ...good.layers[0], samples: { ...good.layers[0].samples, key: '%%%' } }, good.layers[1]] },
        { ...good, layers: [{ ...good.layers[0], samples: { ...good.layers[0].samples, key: 7 } }, good.layers[1]] },
        { ...good, layers: [{ ...good.layers[0], weights: { z: good.layers[0].weights.k } }, good.layers[1]] },
        { ...good, layers: [{ ...good.layers[0], weights: { k: { ...good.layers[0].weights.k, rows: 7 } } }, good.layers[1]] },
        { ...good, layers: [{ ...good.layers[0], weights: { k: { ...good.layers[0].weights.k, rows: 4, cols: 6 } } }, good.layers[1]] },
      ];
      for (const json of corrupt) expect(() => KVCalibrationSet.load(json)).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
    }));
});
