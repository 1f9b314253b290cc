import { attention, type CacheLayerFactory, denseCache, InvalidConfigError, type Rng, ShapeMismatchError, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import {
  a2sf,
  chunkKV,
  type CompressingLayer,
  h2o,
  l2norm,
  raggedDenseStore,
  resolveBudget,
  snapKV,
  streamingLLM,
  tova,
} from '../src/index.js';
import { backend, f32, layerSpec, positions, randomArray } from './helpers.js';

const d = 8;
const spec = layerSpec({ qHeads: 4, kvHeads: 2, headDim: d });

interface Case {
  name: string;
  make: (budget: number, sinks: number, recent: number, heads: 'uniform' | 'adaptive', dtype: 'f16' | 'f32') => CacheLayerFactory;
  /** Whether kept tokens keep their exact K/V (evicting methods) — merging methods change them. */
  evictOnly: boolean;
}

const CASES: Case[] = [
  { name: 'streaming', make: (b, s, _r, heads, dtype) => streamingLLM({ budget: b, sinks: s, heads, store: raggedDenseStore({ dtype }) }), evictOnly: true },
  { name: 'h2o', make: (b, s, r, heads, dtype) => h2o({ budget: b, sinks: s, recent: r, heads, store: raggedDenseStore({ dtype }) }), evictOnly: true },
  { name: 'a2sf', make: (b, s, r, heads, dtype) => a2sf({ budget: b, sinks: s, recent: r, heads, decay: 0.8, store: raggedDenseStore({ dtype }) }), evictOnly: true },
  { name: 'l2norm', make: (b, s, r, heads, dtype) => l2norm({ budget: b, sinks: s, recent: r, heads, skipLayers: 0, store: raggedDenseStore({ dtype }) }), evictOnly: true },
  { name: 'snapkv', make: (b, s, r, heads, dtype) => snapKV({ budget: b, sinks: s, recent: r, heads, observationWindow: 8, store: raggedDenseStore({ dtype }) }), evictOnly: true },
  { name: 'tova', make: (b, s, r, heads, dtype) => tova({ budget: b, sinks: s, recent: r, heads, store: raggedDenseStore({ dtype }) }), evictOnly: true },
  { name: 'chunkkv', make: (b, s, r, heads, dtype) => chunkKV({ budget: b, sinks: s, recent: r, heads, chunk: 4, store: raggedDenseStore({ dtype }) }), evictOnly: true },
];

/** Appends n random tokens and attends with m = n queries; returns the host K/V appended. */
function step(layer: CompressingLayer, rng: Rng, start: number, n: number, phase: 'prefill' | 'decode') {
  const k = randomArray(rng, 2 * n * d);
  const v = randomArray(rng, 2 * n * d);
  layer.append(tensor(k, [2, n, d], { backend }), tensor(v, [2, n, d], { backend }), { positions: positions(start, n), phase });
  const out = layer.attend(tensor(randomArray(rng, 4 * n * d), [4, n, d], { backend }), { positions: positions(start, n) });
  return { k, v, output: out.output };
}

describe.each(CASES)('$name: invariants on random inputs', ({ make, evictOnly }) => {
  it('respects the budget per head, keeps sinks and the recent window, preserves positions with their K/V, and evicts while decoding', () =>
    withSeed((rng) => {
      const fraction = [0.25, 0.5, 0.1][rng.int(3)];
      const sinks = rng.int(3);
      const recent = 2 + rng.int(4);
      const heads = rng.uniform() < 0.5 ? 'uniform' : 'adaptive';
      const layer = make(fraction, sinks, recent, heads, 'f32')(spec) as CompressingLayer;
      const prompt = 40 + rng.int(40);
      const appended = new Map<number, { k: Float32Array[]; v: Float32Array[] }>();
      const record = (start: number, n: number, k: Float32Array, v: Float32Array) => {
        for (let t = 0; t < n; t++) {
          appended.set(start + t, {
            k: [0, 1].map((h) => k.slice((h * n + t) * d, (h * n + t + 1) * d)),
            v: [0, 1].map((h) => v.slice((h * n + t) * d, (h * n + t + 1) * d)),
          });
        }
      };
      const first = step(layer, rng, 0, prompt, 'prefill');
      record(0, prompt, first.k, first.v);
      for (let t = prompt; t < prompt + 12; t++) {
        const next = step(layer, rng, t, 1, 'decode');
        record(t, 1, next.k, next.v);
        const seen = t + 1;
        const budget = resolveBudget(fraction, seen);
        const counts = layer.storedTokens();
        if (heads === 'uniform') for (const c of counts) expect(c).toBeLessThanOrEqual(budget);
        else expect(counts[0] + counts[1]).toBeLessThanOrEqual(2 * budget);
        // Decode-time eviction really happened: the layer holds no more than its budget, not everything seen.
        expect(Math.max(...counts)).toBeLessThan(seen);
        for (let h = 0; h < 2; h++) {
          const stored = [...layer.storedPositions(h)];
          const headBudget = counts[h];
          if (headBudget >= sinks + recent && budget >= sinks + recent) {
            for (let s = 0; s < sinks; s++) expect(stored).toContain(s);
            for (let r = 0; r < Math.min(recent, headBudget - sinks); r++) expect(stored).toContain(seen - 1 - r);
          }
          expect(stored).toEqual([...stored].sort((a, b) => a - b)); // arrival order survives compaction
          if (evictOnly) {
            const { keys, values } = layer.store.read(h);
            stored.forEach((p, i) => {
              expect([...keys.subarray(i * d, (i + 1) * d)]).toEqual([...appended.get(p)!.k[h]]);
              expect([...values.subarray(i * d, (i + 1) * d)]).toEqual([...appended.get(p)!.v[h]]);
            });
          }
        }
      }
    }));

  it('memory() falls by exactly the bytes of the evicted tokens', () =>
    withSeed((rng) => {
      const layer = make(1, 0, 2, 'uniform', 'f16')(spec) as CompressingLayer;
      const n = 50;
      step(layer, rng, 0, n, 'prefill');
      const full = layer.memory();
      expect(layer.storedTokens()).toEqual([n, n]);
      // A second layer with a budget of 20 tokens sees the same stream and evicts 30 tokens per head.
      const small = make(20, 0, 2, 'uniform', 'f16')(spec) as CompressingLayer;
      small.append(tensor(randomArray(rng, 2 * n * d), [2, n, d], { backend }), tensor(randomArray(rng, 2 * n * d), [2, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
      const beforeEviction = small.memory();
      const tableBefore = small.table.bytes().statistics;
      small.attend(tensor(randomArray(rng, 4 * n * d), [4, n, d], { backend }), { positions: positions(0, n) });
      const after = small.memory();
      const kept = small.storedTokens();
      for (const c of kept) expect(c).toBeLessThanOrEqual(20);
      const evicted = 2 * n - kept[0] - kept[1];
      expect(evicted).toBeGreaterThanOrEqual(60);
      const rowBytes = d * 2; // f16
      expect(beforeEviction.parts.keys).toBe(full.parts.keys);
      expect(beforeEviction.parts.keys - after.parts.keys).toBe(evicted * rowBytes);
      expect(beforeEviction.parts.values - after.parts.values).toBe(evicted * rowBytes);
      expect(beforeEviction.parts.positions - after.parts.positions).toBe(evicted * 4);
      // Scorer state per token (token ids + columns) goes with the token; a query window is a fixed cost.
      const perToken = tableBefore / (2 * n);
      expect((beforeEviction.parts.statistics ?? 0) - (after.parts.statistics ?? 0)).toBeCloseTo(evicted * perToken, 9);
      expect(small.table.bytes().statistics).toBeCloseTo(tableBefore - evicted * perToken, 9);
      expect(after.bytes).toBeLessThan(beforeEviction.bytes);
      expect(after.tokens).toBe((kept[0] + kept[1]) / 2);
    }));

  it('with a budget covering every token, attention equals the dense cache (to f32 rounding)', () =>
    withSeed((rng) => {
      const ours = make(1, 4, 8, 'uniform', 'f16')(spec) as CompressingLayer;
      const dense = denseCache({ dtype: 'f16' })(spec);
      const n = 30;
      for (const [start, count, phase] of [
        [0, n, 'prefill'],
        [n, 1, 'decode'],
        [n + 1, 1, 'decode'],
      ] as const) {
        const k = tensor(randomArray(rng, 2 * count * d), [2, count, d], { backend });
        const v = tensor(randomArray(rng, 2 * count * d), [2, count, d], { backend });
        const q = tensor(randomArray(rng, 4 * count * d), [4, count, d], { backend });
        for (const layer of [ours, dense]) layer.append(k, v, { positions: positions(start, count), phase });
        const a = ours.attend(q, { positions: positions(start, count) }).output;
        const b = dense.attend(q, { positions: positions(start, count) }).output;
        // The fused kernel and the dense cache's float64 reference sum in different orders: equal up to the last f32 bit.
        assertClose(a.readSync(), b.readSync(), 1e-6, `attend at ${start}`);
      }
    }));

  it('a failed append leaves the layer as it was', () =>
    withSeed((rng) => {
      const layer = make(0.5, 1, 2, 'uniform', 'f32')(spec) as CompressingLayer;
      step(layer, rng, 0, 20, 'prefill');
      const memory = layer.memory();
      const stored = [0, 1].map((h) => [...layer.storedPositions(h)]);
      const bad = tensor(randomArray(rng, 3 * 2 * d), [3, 2, d], { backend });
      expect(() => layer.append(bad, bad, { positions: positions(20, 2), phase: 'decode' })).toThrow(ShapeMismatchError);
      const ok = tensor(randomArray(rng, 2 * 2 * d), [2, 2, d], { backend });
      expect(() => layer.append(ok, ok, { positions: Int32Array.of(20, -1), phase: 'decode' })).toThrow(InvalidConfigError);
      expect(() => layer.append(ok, ok, { positions: positions(20, 3), phase: 'decode' })).toThrow(ShapeMismatchError);
      expect(layer.memory()).toEqual(memory);
      expect([0, 1].map((h) => [...layer.storedPositions(h)])).toEqual(stored);
      expect(layer.length).toBe(20);
    }));
});

describe('triggers', () => {
  it('prefill-only compression lets decoded tokens accumulate; an interval compresses every N steps', () =>
    withSeed((rng) => {
      const prefillOnly = h2o({ budget: 10, trigger: { phases: 'prefill' } })(spec) as CompressingLayer;
      const everyFour = h2o({ budget: 10, trigger: { interval: 4 } })(spec) as CompressingLayer;
      for (const layer of [prefillOnly, everyFour]) step(layer, rng, 0, 30, 'prefill');
      expect(prefillOnly.storedTokens()).toEqual([10, 10]);
      const counts: number[] = [];
      for (let t = 30; t < 38; t++) {
        step(prefillOnly, rng, t, 1, 'decode');
        step(everyFour, rng, t, 1, 'decode');
        counts.push(everyFour.storedTokens()[0]);
      }
      expect(prefillOnly.storedTokens()).toEqual([18, 18]);
      expect(counts).toEqual([11, 12, 13, 10, 11, 12, 13, 10]);
    }));

  it('rejects invalid budgets, protections and triggers with typed errors', () => {
    expect(() => h2o({ budget: 0 })).toThrow(InvalidConfigError);
    expect(() => h2o({ budget: 2.5 })).toThrow(InvalidConfigError);
    expect(() => h2o({ budget: 0.5, recent: -1 })).toThrow(InvalidConfigError);
    expect(() => h2o({ budget: 0.5, trigger: { interval: 0 } })).toThrow(InvalidConfigError);
    expect(() => streamingLLM({ sinks: 4 })).toThrow(InvalidConfigError);
    expect(() => snapKV({ budget: 0.5, kernel: 4 })).toThrow(InvalidConfigError);
    expect(() => a2sf({ budget: 0.5, decay: 1.5 })).toThrow(InvalidConfigError);
  });
});

describe('statistics for the caller', () => {
  it('returns per-key statistics of the stored keys, zero-padded per head', () =>
    withSeed((rng) => {
      const layer = h2o({ budget: 12, store: raggedDenseStore({ dtype: 'f32' }) })(spec) as CompressingLayer;
      const n = 12;
      const k = randomArray(rng, 2 * n * d);
      const v = randomArray(rng, 2 * n * d);
      const q = randomArray(rng, 4 * n * d);
      layer.append(tensor(k, [2, n, d], { backend }), tensor(v, [2, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
      const result = layer.attend(tensor(q, [4, n, d], { backend }), { positions: positions(0, n), statistics: true });
      const qPos = tensor(positions(0, n), [n], { backend, dtype: 'i32' });
      const ref = attention(tensor(q, [4, n, d], { backend }), tensor(k, [2, n, d], { backend }), tensor(v, [2, n, d], { backend }), { statistics: true, queryPositions: qPos, keyPositions: qPos });
      expect(result.statistics!.keySum.shape).toEqual([4, n]);
      // The kernel scores in float32 SIMD (attention-kernels' row kernel), the reference in float64.
      assertClose(f32(result.statistics!.keySum), f32(ref.statistics!.keySum), 1e-5, 'keySum');
    }));
});
