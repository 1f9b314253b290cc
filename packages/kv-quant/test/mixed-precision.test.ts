import { tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { MixedPrecisionLayer, mixedPrecision, normalizedAttention, zipCache } from '../src/index.js';
import { layerSpec, positions, randomArray, referenceAttention } from './helpers.js';

const d = 16;
const spec = layerSpec({ headDim: d, kvHeads: 2, qHeads: 4 });

describe('mixed precision (ZipCache, MiKV)', () => {
  it('accumulates attention and visible-query counts per token from the attention statistics (the normalized score)', () =>
    withSeed((rng) => {
      const layer = zipCache({ recent: 100, dtype: 'f32' })(spec) as MixedPrecisionLayer;
      const n = 12;
      const k = randomArray(rng, 2 * n * d);
      const v = randomArray(rng, 2 * n * d);
      layer.append(tensor(k, [2, n, d]), tensor(v, [2, n, d]), { positions: positions(0, n), phase: 'prefill' });
      const q1 = randomArray(rng, 4 * n * d);
      layer.attend(tensor(q1, [4, n, d]), { positions: positions(0, n) });
      const q2 = randomArray(rng, 4 * 2 * d);
      layer.attend(tensor(q2, [4, 2, d]), { positions: Int32Array.of(5, 11) });
      const r1 = referenceAttention(q1, k, v, { qHeads: 4, kvHeads: 2, m: n, n, d }, positions(0, n), positions(0, n));
      const r2 = referenceAttention(q2, k, v, { qHeads: 4, kvHeads: 2, m: 2, n, d }, [5, 11], positions(0, n));
      const stats = layer.tokenStatistics();
      expect(Array.from(stats.positions)).toEqual(Array.from(positions(0, n)));
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let h = 0; h < 4; h++) sum += r1.keySum[h * n + j] + r2.keySum[h * n + j];
        expect(stats.attention[j]).toBeCloseTo(sum / 4, 5);
        // Causal: query i sees key j when j ≤ i; the second pass has queries at 5 and 11.
        expect(stats.queries[j]).toBe(n - j + (j <= 5 ? 2 : 1));
      }
      const score = normalizedAttention(stats);
      for (let j = 0; j < n; j++) expect(score[j]).toBeCloseTo(stats.attention[j] / stats.queries[j], 6);
    }));

  it('ZipCache: when tokens leave the window, the most salient share goes to high precision, the rest to low', () =>
    withSeed((rng) => {
      const n = 40;
      const layer = zipCache({ bits: 2, highBits: 8, salientRatio: 0.25, recent: 8, dtype: 'f32' })(spec) as MixedPrecisionLayer;
      const k = randomArray(rng, 2 * n * d, 2);
      const v = randomArray(rng, 2 * n * d);
      layer.append(tensor(k, [2, n, d]), tensor(v, [2, n, d]), { positions: positions(0, n), phase: 'prefill' });
      layer.attend(tensor(randomArray(rng, 4 * n * d, 2), [4, n, d]), { positions: positions(0, n) });
      const score = normalizedAttention(layer.tokenStatistics());
      layer.append(tensor(randomArray(rng, 2 * d), [2, 1, d]), tensor(randomArray(rng, 2 * d), [2, 1, d]), {
        positions: Int32Array.of(n),
        phase: 'decode',
      });
      // The window is flushed before the new token joins it: 32 tokens leave (40 − 8), round(0.25 · 32) = 8 are salient.
      const flushed = Array.from({ length: n - 8 }, (_, i) => i);
      const expected = flushed
        .sort((a, b) => score[b] - score[a] || a - b)
        .slice(0, 8)
        .sort((a, b) => a - b);
      expect(layer.high.store.count).toBe(8);
      expect(layer.low.store.count).toBe(24);
      expect(Array.from(layer.high.columns.positions.subarray(0, 8)).sort((a, b) => a - b)).toEqual(expected);
      // Salient tokens are stored more precisely than the others.
      const err = (tier: typeof layer.high) => {
        const { k: kd } = tier.decode();
        const x = kd.readSync();
        const rows = tier.columns.count;
        let e = 0;
        for (let h = 0; h < 2; h++)
          for (let r = 0; r < rows; r++)
            for (let c = 0; c < d; c++) e += (x[(h * rows + r) * d + c] - k[(h * n + tier.columns.positions[r]) * d + c]) ** 2;
        return e / (2 * rows * d);
      };
      expect(err(layer.high)).toBeLessThan(err(layer.low) / 20);
      // Attention reads high, low and window tokens together, at their positions.
      const q = randomArray(rng, 4 * d);
      const out = layer.attend(tensor(q, [4, 1, d]), { positions: Int32Array.of(n) }).output.readSync();
      const K: number[] = [];
      const V: number[] = [];
      const parts = [layer.high.decode(), layer.low.decode()];
      const windowK = (layer as unknown as { window: { buffer(n: string): { rows(a: number, b: number): { readSync(): Float32Array } } } }).window;
      for (let h = 0; h < 2; h++) {
        for (const p of parts) {
          const rows = p.k.shape[1];
          K.push(...p.k.readSync().subarray(h * rows * d, (h + 1) * rows * d));
          V.push(...p.v.readSync().subarray(h * rows * d, (h + 1) * rows * d));
        }
        const w = layer.length - layer.high.store.count - layer.low.store.count;
        const wk = windowK.buffer('k').rows(0, w).readSync();
        const wv = windowK.buffer('v').rows(0, w).readSync();
        K.push(...wk.subarray(h * w * d, (h + 1) * w * d));
        V.push(...wv.subarray(h * w * d, (h + 1) * w * d));
      }
      const stored = layer.storedPositions();
      const ref = referenceAttention(q, K, V, { qHeads: 4, kvHeads: 2, m: 1, n: n + 1, d }, [n], stored);
      assertClose(out, ref.out, 1e-5, 'mixed attend');
    }));

  it('MiKV: tokens that fall out of the high-precision budget are demoted to low precision, never dropped', () =>
    withSeed((rng) => {
      const layer = mixedPrecision({ bits: 2, highBits: 8, highRatio: 0.5, recent: 2, groupSize: 16, dtype: 'f32' })(spec) as MixedPrecisionLayer;
      let t = 0;
      const step = (n: number) => {
        layer.append(tensor(randomArray(rng, 2 * n * d), [2, n, d]), tensor(randomArray(rng, 2 * n * d), [2, n, d]), {
          positions: positions(t, n),
          phase: t ? 'decode' : 'prefill',
        });
        layer.attend(tensor(randomArray(rng, 4 * n * d, 3), [4, n, d]), { positions: positions(t, n) });
        t += n;
      };
      step(10);
      for (let i = 0; i < 12; i++) {
        const before = layer.tokenStatistics();
        const lowBefore = new Set(layer.low.columns.positions.subarray(0, layer.low.columns.count));
        step(1);
        expect(layer.length).toBe(t);
        // The window keeps 2 attended tokens plus the new one; everything older is quantized.
        const quantized = layer.high.store.count + layer.low.store.count;
        expect(quantized).toBe(t - 3);
        expect(layer.high.store.count).toBe(Math.round(0.5 * quantized));
        // Every high token outranks every low token by the accumulated attention at decision time.
        const scoreOf = new Map(Array.from(before.positions, (p, j) => [p, before.attention[j]]));
        const high = Array.from(layer.high.columns.positions.subarray(0, layer.high.columns.count));
        const low = Array.from(layer.low.columns.positions.subarray(0, layer.low.columns.count));
        const minHigh = Math.min(...high.map((p) => scoreOf.get(p)!));
        const newlyLow = low.filter((p) => !lowBefore.has(p)); // demoted from high, or just flushed
        for (const p of newlyLow) expect(scoreOf.get(p)!).toBeLessThanOrEqual(minHigh);
      }
    }));

  it('MiKV with a recency scorer: each flushed token displaces the oldest high-precision token, which is re-coded at low precision', () =>
    withSeed((rng) => {
      const recency = (s: { positions: Int32Array }) => Float64Array.from(s.positions);
      const layer = mixedPrecision({ scorer: recency, bits: 2, highBits: 8, highRatio: 0.5, recent: 1, groupSize: 16, dtype: 'f32' })(
        spec
      ) as MixedPrecisionLayer;
      const n = 30;
      const k = randomArray(rng, 2 * n * d);
      for (let t = 0; t < n; t++) {
        const row = (x: Float32Array) =>
          tensor(Float32Array.from([...x.subarray(t * d, (t + 1) * d), ...x.subarray((n + t) * d, (n + t + 1) * d)]), [2, 1, d]);
        layer.append(row(k), row(k), { positions: Int32Array.of(t), phase: 'decode' });
      }
      const quantized = n - 2; // window: 1 attended + the newest
      const highCount = Math.round(0.5 * quantized);
      const high = Array.from(layer.high.columns.positions.subarray(0, layer.high.columns.count)).sort((a, b) => a - b);
      const low = Array.from(layer.low.columns.positions.subarray(0, layer.low.columns.count)).sort((a, b) => a - b);
      expect(high).toEqual(Array.from({ length: highCount }, (_, i) => quantized - highCount + i));
      expect(low).toEqual(Array.from({ length: quantized - highCount }, (_, i) => i));
      // Demoted tokens now carry 2-bit error; the kept ones 8-bit error.
      const maxErr = (tier: typeof layer.high) => {
        const x = tier.decode().k.readSync();
        const rows = tier.columns.count;
        let e = 0;
        for (let h = 0; h < 2; h++)
          for (let r = 0; r < rows; r++)
            for (let c = 0; c < d; c++) e = Math.max(e, Math.abs(x[(h * rows + r) * d + c] - k[(h * n + tier.columns.positions[r]) * d + c]));
        return e;
      };
      expect(maxErr(layer.high)).toBeLessThan(0.03);
      expect(maxErr(layer.low)).toBeGreaterThan(0.2);
    }));

  it('memory counts both tiers, the full-precision window, the channel scales and the per-token bookkeeping', () =>
    withSeed((rng) => {
      const layer = zipCache({ bits: 2, highBits: 4, salientRatio: 0.5, recent: 4, initialCapacity: 16 })(
        layerSpec({ headDim: 64 })
      ) as MixedPrecisionLayer;
      const n = 20;
      layer.append(tensor(randomArray(rng, 2 * n * 64), [2, n, 64]), tensor(randomArray(rng, 2 * n * 64), [2, n, 64]), {
        positions: positions(0, n),
        phase: 'prefill',
      });
      layer.attend(tensor(randomArray(rng, 4 * n * 64), [4, n, 64]), { positions: positions(0, n) }).output.dispose();
      layer.append(tensor(randomArray(rng, 2 * 64), [2, 1, 64]), tensor(randomArray(rng, 2 * 64), [2, 1, 64]), {
        positions: Int32Array.of(n),
        phase: 'decode',
      });
      const m = layer.memory();
      // 16 tokens left the window (20 − 4): 8 at 4 bits, 8 at 2 bits; one scale and zero per token (channel-separable).
      const high = layer.high.store.count;
      const low = layer.low.store.count;
      expect([high, low]).toEqual([8, 8]);
      expect(m.parts.codes).toBe(2 /* K,V */ * 2 * (high * 8 + low * 4) * 4);
      expect(m.parts.scales).toBe(2 * 2 * (high + low) * 2 + 2 * 2 * 64 * 4);
      expect(m.parts.zeros).toBe(2 * 2 * (high + low) * 2);
      expect(m.parts.window).toBe(5 * 2 * 2 * 64 * 2);
      expect(m.parts.positions).toBe(21 * 4);
      expect(m.parts.statistics).toBe(21 * 8);
      expect(m.bytes).toBe(Object.values(m.parts).reduce((a, b) => a + b, 0));
    }));

  it('gives back the window capacity a long prefill needed once it has been quantized', () =>
    withSeed((rng) => {
      const layer = mixedPrecision({ recent: 8, initialCapacity: 16 })(layerSpec({ headDim: 64 })) as MixedPrecisionLayer;
      const n = 500;
      layer.append(tensor(randomArray(rng, 2 * n * 64), [2, n, 64]), tensor(randomArray(rng, 2 * n * 64), [2, n, 64]), {
        positions: positions(0, n),
        phase: 'prefill',
      });
      layer.attend(tensor(randomArray(rng, 4 * 64), [4, 1, 64]), { positions: Int32Array.of(n - 1) }).output.dispose();
      const during = layer.windowColumns.capacity;
      layer.append(tensor(randomArray(rng, 2 * 64), [2, 1, 64]), tensor(randomArray(rng, 2 * 64), [2, 1, 64]), {
        positions: Int32Array.of(n),
        phase: 'decode',
      });
      expect(during).toBeGreaterThanOrEqual(n);
      expect(layer.windowColumns.count).toBe(9);
      // Shrunk to twice the 8 rows left after the flush; the new token fits.
      expect(layer.windowColumns.capacity).toBe(16);
      expect((layer as unknown as { window: { capacity: number } }).window.capacity).toBe(16);
    }));

  it('bad configurations are typed errors', () => {
    expect(() => zipCache({ bits: 5 })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_BIT_WIDTH' }));
    expect(() => zipCache({ salientRatio: 1.5 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => mixedPrecision({ scorer: 'oracle' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => mixedPrecision({ groupSize: 5 })(spec)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => mixedPrecision({ recent: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
