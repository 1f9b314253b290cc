import { createCache, packCodes, tensor, unpackCodes, wordsPerRow } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { dequantizeUniform, fp8, quantizeUniform, uniformQuant } from '../src/index.js';
import { f16, layerSpec, positions, randomArray, withOutlierChannels } from './helpers.js';

/** One f16 ulp at x (the spacing of f16 values around |x|). */
const ulp16 = (x: number) => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(x) || 2 ** -24)), -14) - 10);
const roundHalfEven = (x: number) => {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

describe('uniform quantization kernels', () => {
  for (const bits of [1, 2, 3, 4, 8]) {
    it(`asymmetric ${bits}-bit: parameters enclose each group, codes follow rint((x − zero)/scale), |x − x̂| ≤ scale/2`, () =>
      withSeed((rng) => {
        for (const [length, groupSize, paramDType] of [
          [24, 8, 'f16'],
          [20, 8, 'f16'],
          [16, 16, 'f32'],
        ] as const) {
          const rows = 5;
          const x = randomArray(rng, rows * length, 2);
          const attrs = { bits, groupSize, symmetric: false, paramDType };
          const q = quantizeUniform(tensor(x, [rows, length]), attrs);
          const groups = Math.ceil(length / groupSize);
          expect(q.codes.shape).toEqual([rows, wordsPerRow(length, bits, groupSize)]);
          expect(q.scale.dtype).toBe(paramDType);
          const scale = q.scale.readFloat32Sync();
          const zero = q.zero!.readFloat32Sync();
          const codes = unpackCodes(q.codes.readSync() as Uint32Array, length, bits, groupSize);
          const back = dequantizeUniform(q, length, attrs).readSync();
          const top = 2 ** bits - 1;
          for (let r = 0; r < rows; r++) {
            for (let g = 0; g < groups; g++) {
              const xs = Array.from(x.subarray(r * length + g * groupSize, r * length + Math.min(length, (g + 1) * groupSize)));
              const lo = Math.min(...xs);
              const hi = Math.max(...xs);
              const s = scale[r * groups + g];
              const z = zero[r * groups + g];
              const tol = paramDType === 'f16' ? 2 * ulp16(Math.max(Math.abs(lo), Math.abs(hi))) : 1e-6 * Math.max(1, Math.abs(lo), Math.abs(hi));
              expect(z).toBeLessThanOrEqual(lo);
              expect(lo - z).toBeLessThanOrEqual(tol);
              expect(z + s * top).toBeGreaterThanOrEqual(hi - 1e-9);
              expect(s).toBeLessThanOrEqual((hi - z) / top + tol);
              xs.forEach((v, j) => {
                const i = r * length + g * groupSize + j;
                expect(codes[i]).toBe(Math.min(top, Math.max(0, roundHalfEven((v - z) / s))));
                expect(back[i]).toBe(Math.fround(codes[i] * s + z));
                expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(s / 2 + 1e-6);
              });
            }
          }
          // The packed words are tensor-core's layout of these codes.
          expect(Array.from(q.codes.readSync())).toEqual(Array.from(packCodes(codes, length, bits, groupSize)));
        }
      }));
  }

  for (const bits of [2, 3, 4, 8]) {
    it(`symmetric ${bits}-bit: scale ≥ max|x| / (2^(b−1) − 1), zero-centred codes, |x − x̂| ≤ scale/2`, () =>
      withSeed((rng) => {
        const length = 32;
        const x = randomArray(rng, 3 * length);
        const attrs = { bits, groupSize: 16, symmetric: true, paramDType: 'f16' as const };
        const q = quantizeUniform(tensor(x, [3, length]), attrs);
        expect(q.zero).toBeUndefined();
        const scale = q.scale.readFloat32Sync();
        const codes = unpackCodes(q.codes.readSync() as Uint32Array, length, bits, 16);
        const back = dequantizeUniform(q, length, attrs).readSync();
        const L = 2 ** (bits - 1) - 1;
        for (let r = 0; r < 3; r++) {
          for (let g = 0; g < 2; g++) {
            const xs = Array.from(x.subarray(r * length + g * 16, r * length + (g + 1) * 16));
            const s = scale[r * 2 + g];
            const absMax = Math.max(...xs.map(Math.abs));
            expect(s * L).toBeGreaterThanOrEqual(absMax);
            expect(s).toBeLessThanOrEqual(f16(absMax / L) + ulp16(absMax / L));
            xs.forEach((v, j) => {
              const i = r * length + g * 16 + j;
              expect(codes[i] - 2 ** (bits - 1)).toBe(roundHalfEven(v / s) + 0);
              expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(s / 2 + 1e-6);
            });
          }
        }
      }));
  }

  it('a constant group quantizes exactly; unsupported widths and groups are typed errors', () => {
    const q = quantizeUniform(tensor(new Float32Array(8).fill(0.25), [1, 8]), { bits: 2, groupSize: 8, symmetric: false, paramDType: 'f16' });
    expect(Array.from(dequantizeUniform(q, 8, { bits: 2, groupSize: 8, symmetric: false, paramDType: 'f16' }).readSync())).toEqual(
      new Array(8).fill(0.25)
    );
    const x = tensor(new Float32Array(8), [1, 8]);
    expect(() => quantizeUniform(x, { bits: 1, groupSize: 8, symmetric: true, paramDType: 'f16' })).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_BIT_WIDTH' })
    );
    expect(() => quantizeUniform(x, { bits: 5, groupSize: 8, symmetric: false, paramDType: 'f16' })).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_BIT_WIDTH' })
    );
    expect(() => quantizeUniform(x, { bits: 4, groupSize: 0, symmetric: false, paramDType: 'f16' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' })
    );
  });
});

describe('per-channel vs per-token semantics', () => {
  it('with known outlier channels, per-channel keys keep the ordinary channels precise; per-token groups are stretched by the outliers', () =>
    withSeed((rng) => {
      const d = 16;
      const n = 64;
      const outliers = [3, 11];
      const k = withOutlierChannels(rng, 2, n, d, outliers, 20);
      const v = randomArray(rng, 2 * n * d);
      const error = (axis: 'token' | 'channel') => {
        const layer = createCache(layerSpec({ headDim: d }), uniformQuant({ bits: 4, axis, groupSize: 16, dtype: 'f32' })).layers[0];
        layer.append(tensor(k, [2, n, d]), tensor(v, [2, n, d]), { positions: positions(0, n), phase: 'prefill' });
        const decoded = (layer as unknown as { keys: { decode(): { readSync(): Float32Array } } }).keys.decode().readSync();
        let ordinary = 0;
        let squares = 0;
        let count = 0;
        for (let i = 0; i < k.length; i++) {
          if (outliers.includes(i % d)) continue;
          ordinary = Math.max(ordinary, Math.abs(decoded[i] - k[i]));
          squares += (decoded[i] - k[i]) ** 2;
          count++;
        }
        return { ordinary, rms: Math.sqrt(squares / count) };
      };
      const perToken = error('token');
      const perChannel = error('channel');
      // Per token, a group spans the outliers' range (≈ 40 + noise) → step ≈ range/15; per channel
      // (groups of 16 tokens), an ordinary channel's range is that of N(0, 1) samples.
      let worstOrdinaryRange = 0;
      let smallestTokenRange = Infinity;
      for (let h = 0; h < 2; h++) {
        for (let g = 0; g < n / 16; g++) {
          for (let c = 0; c < d; c++) {
            if (outliers.includes(c)) continue;
            const xs = Array.from({ length: 16 }, (_, t) => k[(h * n + g * 16 + t) * d + c]);
            worstOrdinaryRange = Math.max(worstOrdinaryRange, Math.max(...xs) - Math.min(...xs));
          }
        }
        for (let t = 0; t < n; t++) {
          const xs = Array.from(k.subarray((h * n + t) * d, (h * n + t + 1) * d));
          smallestTokenRange = Math.min(smallestTokenRange, Math.max(...xs) - Math.min(...xs));
        }
      }
      expect(perChannel.ordinary).toBeLessThanOrEqual(worstOrdinaryRange / 15 / 2 + 1e-6);
      expect(perToken.ordinary).toBeLessThanOrEqual((Math.max(...Array.from(k, Math.abs)) * 2) / 15 / 2 + 1e-6);
      expect(smallestTokenRange).toBeGreaterThan(10);
      expect(perChannel.rms * 4).toBeLessThan(perToken.rms);
    }));

  it('the stored scales have the axis semantics: one per (token, channel group) or one per (channel, token group)', () =>
    withSeed((rng) => {
      const d = 16;
      const n = 32;
      const k = withOutlierChannels(rng, 2, n, d, [5], 50);
      for (const axis of ['token', 'channel'] as const) {
        const layer = createCache(layerSpec({ headDim: d }), uniformQuant({ bits: 8, axis, groupSize: 8, dtype: 'f32' })).layers[0];
        layer.append(tensor(k, [2, n, d]), tensor(k, [2, n, d]), { positions: positions(0, n), phase: 'prefill' });
        const keys = (
          layer as unknown as {
            keys: {
              quantized?: { count: number };
              groups?: { count: number; buffer(n: string): { tensor: { shape: readonly number[]; readFloat32Sync(): Float32Array } } };
            };
          }
        ).keys;
        if (axis === 'token') {
          expect(keys.quantized!.count).toBe(n);
          expect(layer.memory().parts.scales).toBe(2 /* K and V */ * 2 * n * (d / 8) * 4);
        } else {
          // groups of 8 tokens: 4 groups; scale [heads, groups, d] — channel 5's scale carries its outliers alone.
          expect(keys.groups!.count).toBe(4);
          const scaleBuf = keys.groups!.buffer('scale').tensor;
          const cap = scaleBuf.shape[1];
          const scales = scaleBuf.readFloat32Sync();
          for (let h = 0; h < 2; h++) {
            for (let g = 0; g < 4; g++) {
              for (let c = 0; c < d; c++) {
                const xs = Array.from({ length: 8 }, (_, t) => k[(h * n + g * 8 + t) * d + c]);
                const expected = (Math.max(...xs) - Math.fround(Math.min(...xs))) / 255;
                expect(scales[(h * cap + g) * d + c]).toBeCloseTo(expected, 5);
              }
            }
          }
        }
      }
    }));
});

describe('uniformQuant and fp8 configuration errors', () => {
  it('are typed errors, raised when the factory or the layer is built', () => {
    const spec = layerSpec({ headDim: 16 });
    const cases: [() => unknown, string][] = [
      [() => uniformQuant({ bits: 5 }), 'UNSUPPORTED_BIT_WIDTH'],
      [() => uniformQuant({ bits: 1, symmetric: true }), 'UNSUPPORTED_BIT_WIDTH'],
      [() => uniformQuant({ axis: 'diagonal' as never }), 'INVALID_CONFIG'],
      [() => uniformQuant({ groupSize: 0 }), 'INVALID_CONFIG'],
      [() => uniformQuant({ initialCapacity: 0 }), 'INVALID_CONFIG'],
      [() => uniformQuant({ dtype: 'bf16' as never }), 'INVALID_CONFIG'],
      [() => uniformQuant({ groupSize: 24 })(spec), 'INVALID_CONFIG'],
      [() => uniformQuant({ axis: 'channel', groupSize: 8, residual: 12 })(spec), 'INVALID_CONFIG'],
      [() => fp8({ format: 'e3m4' as never }), 'INVALID_CONFIG'],
      [() => fp8({ scaling: 'per-token' as never }), 'INVALID_CONFIG'],
      [() => fp8({ sinks: -1 }), 'INVALID_CONFIG'],
    ];
    for (const [build, code] of cases) expect(build).toThrow(expect.objectContaining({ code }));
    // A per-channel group size need not divide the head dimension (it counts tokens).
    expect(() => uniformQuant({ axis: 'channel', groupSize: 24 })(spec)).not.toThrow();
  });
});
