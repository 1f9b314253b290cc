import { tensor } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { dequantizeKivi, validateKiviView } from '../src/index.js';
import { randomKiviView } from './helpers/random-kivi.js';

describe('KIVI format', () => {
  for (const bits of [2, 4, 8] as const) {
    it(`dequantizes ${bits}-bit keys per channel and values per token, residual in full precision`, () =>
      withSeed((rng) => {
        for (const [n, residual, cap] of [[70, 10, 0], [64, 0, 3], [5, 5, 2], [33, 1, 0]]) {
          const { view, expectK, expectV, rawK } = randomKiviView(rng, { bits, groupSize: 16, valueGroupSize: 8, kvHeads: 2, headDim: 16, length: n, residual, extraCapacity: cap });
          const { keys, values } = dequantizeKivi(view);
          expect(keys.shape).toEqual([2, n, 16]);
          const k = keys.readSync();
          const v = values.readSync();
          for (let i = 0; i < k.length; i++) {
            expect(k[i]).toBeCloseTo(expectK[i], 5);
            expect(v[i]).toBeCloseTo(expectV[i], 5);
          }
          // The quantization error of a key is at most half a step of its channel's group.
          const scale = view.keyScale.readSync();
          for (let h = 0; h < 2; h++)
            for (let g = 0; g < view.keyGroups; g++)
              for (let c = 0; c < 16; c++)
                for (let t = 0; t < 16; t++) {
                  const i = (h * n + g * 16 + t) * 16 + c;
                  expect(Math.abs(k[i] - rawK[i])).toBeLessThanOrEqual(scale[(h * view.keyCodes.shape[1] + g) * 16 + c] / 2 + 1e-6);
                }
        }
      }));
  }

  it('refuses inconsistent counts, shapes and bit widths', () =>
    withSeed((rng) => {
      const { view } = randomKiviView(rng, { bits: 2, groupSize: 8, valueGroupSize: 8, kvHeads: 1, headDim: 8, length: 20, residual: 4 });
      expect(() => validateKiviView({ ...view, bits: 3 as never })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_BIT_WIDTH' }));
      expect(() => validateKiviView({ ...view, keyGroups: 3 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => validateKiviView({ ...view, valueGroupSize: 3 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => validateKiviView({ ...view, keyScale: tensor([1], [1]) })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    }));
});
