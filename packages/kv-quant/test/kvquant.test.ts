import { type MethodContext, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { fitDatatype, KVCalibration, kvquant, listMethods, type QuantizedCacheLayer, quantizeLut, dequantizeLut } from '../src/index.js';
import { layerSpec, positions, randomArray, referenceAttention, ropeHalf, withOutlierChannels } from './helpers.js';

const d = 16;
const spec = layerSpec({ headDim: d, kvHeads: 2, qHeads: 4 });

function calibrationFor(rng: Parameters<Parameters<typeof withSeed>[0]>[0], n = 256, withQueries = true): KVCalibration {
  return KVCalibration.fromSamples({
    kvHeads: 2,
    headDim: d,
    qHeads: 4,
    rope: spec.rope,
    layers: [
      {
        keys: withOutlierChannels(rng, 2, n, d, [4], 12),
        values: randomArray(rng, 2 * n * d),
        positions: positions(0, n),
        queries: withQueries ? randomArray(rng, 4 * n * d) : undefined,
      },
    ],
  });
}

describe('non-uniform datatypes', () => {
  it('fitDatatype is a weighted Lloyd fixed point: every level is the weighted mean of the samples nearest to it', () =>
    withSeed((rng) => {
      const samples = Float64Array.from({ length: 4000 }, () => Math.max(-1, Math.min(1, rng.normal() / 3)));
      const weights = Float64Array.from(samples, (x) => 1 + 4 * Math.abs(x));
      for (const bits of [1, 2, 3]) {
        const levels = fitDatatype(samples, weights, bits);
        expect(levels.length).toBe(2 ** bits);
        for (let i = 1; i < levels.length; i++) expect(levels[i]).toBeGreaterThan(levels[i - 1]);
        const sum = new Float64Array(levels.length);
        const mass = new Float64Array(levels.length);
        samples.forEach((x, i) => {
          let best = 0;
          for (let j = 1; j < levels.length; j++) if (Math.abs(x - levels[j]) < Math.abs(x - levels[best])) best = j;
          sum[best] += weights[i] * x;
          mass[best] += weights[i];
        });
        for (let j = 0; j < levels.length; j++) expect(levels[j]).toBeCloseTo(sum[j] / mass[j], 4);
      }
    }));

  it('a fitted 3-bit datatype beats the uniform grid on Gaussian data (same number of levels)', () =>
    withSeed((rng) => {
      const samples = Float64Array.from({ length: 5000 }, () => Math.max(-1, Math.min(1, rng.normal() / 3)));
      const fitted = fitDatatype(samples, undefined, 3);
      const uniform = Float32Array.from({ length: 8 }, (_, i) => -1 + (2 * i) / 7);
      const mse = (levels: Float32Array) => {
        const x = tensor(Float32Array.from(samples), [50, 100]);
        const attrs = { bits: 3, groupSize: 100, normalize: 'none' as const, paramDType: 'f32' as const };
        const back = dequantizeLut(quantizeLut(x, tensor(levels), attrs), tensor(levels), 100, attrs).readFloat32Sync();
        return back.reduce((s, v, i) => s + (v - samples[i]) ** 2, 0) / samples.length;
      };
      expect(mse(fitted)).toBeLessThan(0.8 * mse(uniform));
    }));
});

describe('kvquant', () => {
  it('needs calibration: a typed error without it, from the factory and from the registry', () =>
    withSeed((rng) => {
      expect(() => kvquant(undefined as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', name: 'CalibrationRequiredError' }));
      expect(() => kvquant({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      const descriptor = listMethods().find((m) => m.name === 'kvquant')!;
      expect(descriptor.needsCalibration).toBe(true);
      expect(() => descriptor.create({ bits: 3 }, {} as MethodContext)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      const calibration = calibrationFor(rng, 64);
      expect(() => kvquant({ calibration })({ ...spec, layerIndex: 1 })).toThrow(expect.objectContaining({ name: 'CalibrationRequiredError' }));
      expect(() => kvquant({ calibration })(layerSpec({ headDim: 8 }))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => kvquant({ calibration, bits: 5 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => kvquant({ calibration, valueGroupSize: 5 })(spec)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => kvquant({ calibration, outliers: 0.9 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));

  it('stores keys before RoPE and attends like attention over RoPE(dequantized keys) at the stored positions', () =>
    withSeed((rng) => {
      const calibration = calibrationFor(rng);
      const layer = kvquant({ calibration, bits: 3, dtype: 'f32' })(spec) as QuantizedCacheLayer;
      expect(layer.keyInput).toBe('pre-rope');
      const n = 30;
      const pos = Int32Array.from({ length: n }, (_, i) => 2 * i + 1);
      const k = withOutlierChannels(rng, 2, n, d, [4], 12);
      const v = randomArray(rng, 2 * n * d);
      layer.append(tensor(k.subarray(0, 0), [2, 0, d]), tensor(v.subarray(0, 0), [2, 0, d]), { positions: new Int32Array(0), phase: 'prefill' });
      layer.append(tensor(k, [2, n, d]), tensor(v, [2, n, d]), { positions: pos, phase: 'prefill' });
      const keys = layer.keys.decode().readSync();
      const values = layer.values.decode().readSync();
      const q = randomArray(rng, 4 * 2 * d);
      const qPos = Int32Array.of(30, 61);
      const out = layer.attend(tensor(q, [4, 2, d]), { positions: qPos }).output.readSync();
      const ref = referenceAttention(q, ropeHalf(keys, 2, n, d, pos, spec.rope.invFreq), values, { qHeads: 4, kvHeads: 2, m: 2, n, d }, qPos, pos);
      assertClose(out, ref.out, 1e-5, 'kvquant attend');
      // The sink (first token) is exact; in every other vector the largest outlier is exact and the rest is close.
      for (let h = 0; h < 2; h++) {
        for (let c = 0; c < d; c++) {
          expect(keys[h * n * d + c]).toBe(k[h * n * d + c]);
          expect(values[h * n * d + c]).toBe(v[h * n * d + c]);
        }
        for (let t = 1; t < n; t++) {
          const row = (h * n + t) * d;
          const vs = Array.from(v.subarray(row, row + d));
          const mean = vs.reduce((a, b) => a + b, 0) / d;
          const far = vs.reduce((best, x, c) => (Math.abs(x - mean) > Math.abs(vs[best] - mean) ? c : best), 0);
          expect(values[row + far]).toBe(v[row + far]);
        }
      }
      let err = 0;
      let norm = 0;
      for (let i = 0; i < keys.length; i++) {
        err += (keys[i] - k[i]) ** 2;
        norm += k[i] ** 2;
      }
      expect(Math.sqrt(err / norm)).toBeLessThan(0.12);
    }));

  it('memory counts codes, outliers (index + exact value), the full-precision sink and the per-layer parameters', () =>
    withSeed((rng) => {
      const calibration = calibrationFor(rng, 64);
      const layer = kvquant({ calibration, bits: 4, initialCapacity: 8 })(spec) as QuantizedCacheLayer;
      const n = 9;
      layer.append(tensor(randomArray(rng, 2 * n * d), [2, n, d]), tensor(randomArray(rng, 2 * n * d), [2, n, d]), {
        positions: positions(0, n),
        phase: 'prefill',
      });
      const m = layer.memory();
      const q = n - 1; // one sink
      expect(m.parts.sinks).toBe(2 /* K, V */ * 2 * d * 2);
      expect(m.parts.codes).toBe(2 * q * 2 * (d / 8) * 4);
      expect(m.parts.outliers).toBe(2 * q * 2 * (1 + 2)); // one per vector: u8 index + f16 value
      expect(m.parts.scales).toBe(q * 2 * 2 /* value range per token */ + 2 * 2 * d * 4 /* key channel ranges */);
      expect(m.parts.zeros).toBe(q * 2 * 2);
      expect(m.parts.codebooks).toBe(2 * 16 * 4);
      expect(m.parts.rope).toBe((d / 2) * 4);
      expect(m.parts.positions).toBe(n * 4);
      expect(m.bytes).toBe(Object.values(m.parts).reduce((a, b) => a + b, 0));
    }));

  it('query energy (the sensitivity weight) is the RoPE-pair mean of E[q²] over the query heads of each KV head', () =>
    withSeed((rng) => {
      const calibration = calibrationFor(rng, 32);
      const s = calibration.layer(0);
      const energy = calibration.queryEnergy(0)!;
      for (let kvh = 0; kvh < 2; kvh++) {
        for (let c = 0; c < d; c++) {
          const pair = c < d / 2 ? c + d / 2 : c - d / 2;
          let e = 0;
          for (const h of [2 * kvh, 2 * kvh + 1])
            for (let t = 0; t < 32; t++) e += s.queries![(h * 32 + t) * d + c] ** 2 + s.queries![(h * 32 + t) * d + pair] ** 2;
          expect(energy[kvh * d + c]).toBeCloseTo(e / (2 * 2 * 32), 5);
        }
      }
      expect(calibrationFor(rng, 32, false).queryEnergy(0)).toBeUndefined();
    }));
});
