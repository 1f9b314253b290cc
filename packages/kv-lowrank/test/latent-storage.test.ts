import { f16BitsToNumber, numberToF16Bits, tensor, wordsPerRow } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { DenseLatentStore } from '../src/cache/latent-store.js';
import { QuantizedLatentStore } from '../src/cache/quantized-latent-store.js';
import { backend } from './helpers.js';

const f16 = (x: number) => f16BitsToNumber(numberToF16Bits(x));

describe('quantized latents', () => {
  it('decode within half a step of every value (step = (max − min)/(2^bits − 1) per token group)', () =>
    withSeed((rng) => {
      const width = 40;
      const group = 16; // groups of 16, 16 and a tail of 8
      for (const bits of [2, 3, 4, 8]) {
        const store = new QuantizedLatentStore(backend, width, bits, group, 2);
        const n = 9;
        const values = Float32Array.from({ length: n * width }, (_, i) => rng.normal() * (1 + (i % 5)));
        store.append(tensor(values.subarray(0, 5 * width), [1, 5, width], { backend }));
        store.append(tensor(values.subarray(5 * width), [1, 4, width], { backend }));
        expect(store.length).toBe(n);
        const decoded = store.read().readFloat32Sync();
        for (let t = 0; t < n; t++) {
          for (let g0 = 0; g0 < width; g0 += group) {
            const slice = values.subarray(t * width + g0, t * width + Math.min(g0 + group, width));
            const lo = Math.min(...slice);
            const hi = Math.max(...slice);
            const step = f16((hi - lo) / (2 ** bits - 1));
            // Half a step of rounding, plus the f16 rounding of the minimum and of the step itself.
            const bound = step / 2 + Math.abs(f16(lo) - lo) + (2 ** bits - 1) * Math.abs(step - (hi - lo) / (2 ** bits - 1)) + 1e-6;
            slice.forEach((x, i) => expect(Math.abs(decoded[t * width + g0 + i] - x)).toBeLessThanOrEqual(bound));
          }
        }
        const picked = store.gather(Int32Array.of(7, 0)).readFloat32Sync();
        expect(Array.from(picked)).toEqual([...decoded.subarray(7 * width, 8 * width), ...decoded.subarray(0, width)]);
        const words = wordsPerRow(width, bits, group);
        expect(store.memory()).toEqual({ codes: n * words * 4, scales: n * 3 * 2, zeros: n * 3 * 2, reserved: (16 - n) * (words * 4 + 12) });
        store.truncate(4);
        expect(store.length).toBe(4);
        expect(store.read().readFloat32Sync()).toEqual(decoded.subarray(0, 4 * width));
      }
    }));

  it('a constant group decodes exactly, and values outside the f16 range are refused without changing the store', () => {
    const store = new QuantizedLatentStore(backend, 4, 4, 4, 1);
    store.append(tensor(Float32Array.of(2.5, 2.5, 2.5, 2.5), [1, 1, 4], { backend }));
    expect(Array.from(store.read().readFloat32Sync())).toEqual([2.5, 2.5, 2.5, 2.5]);
    const before = store.memory();
    expect(() => store.append(tensor(Float32Array.of(0, 1, 2, 3, -1e6, 1e6, 0, 0), [1, 2, 4], { backend }))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(store.length).toBe(1);
    expect(store.memory().codes).toBe(before.codes);
  });

  it('dense f16 latents round to f16 and count used and reserved bytes', () =>
    withSeed((rng) => {
      const store = new DenseLatentStore(backend, 3, 'f16', 2);
      const values = Float32Array.from({ length: 9 }, () => rng.normal());
      store.append(tensor(values, [1, 3, 3], { backend }));
      expect(Array.from(store.read().readFloat32Sync())).toEqual(Array.from(values, f16));
      expect(store.memory()).toEqual({ latents: 3 * 3 * 2, reserved: 1 * 3 * 2 });
      expect(Array.from(store.gather(Int32Array.of(2)).readFloat32Sync())).toEqual(Array.from(values.subarray(6), f16));
    }));
});
