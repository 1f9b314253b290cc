import { describe, expect, it } from 'vitest';
import {
  type CacheSpec, attention, cpuBackend, createCache, denseCache, denseF16Bytes, DisposedError, DTypeMismatchError, formatBytes, IndexOutOfRangeError,
  ropeInverseFrequencies, ShapeMismatchError, slice, tensor,
} from '../src/index.js';
import { assertClose, withSeed } from '../src/testing/index.js';
import { f32Values, naiveAttention, randomArray } from './reference.js';

const spec = (over: Partial<CacheSpec> = {}): CacheSpec => ({
  numLayers: 2,
  qHeads: 4,
  kvHeads: 2,
  headDim: 8,
  maxPositions: 512,
  backend: cpuBackend(),
  rope: { invFreq: ropeInverseFrequencies(8, 10000), layout: 'half' },
  ...over,
});

const positions = (start: number, n: number) => Int32Array.from({ length: n }, (_, i) => start + i);

describe('dense cache', () => {
  it('prefill + decode steps give exactly the attention over all K/V seen (f32 storage)', () =>
    withSeed((rng) => {
      const cache = createCache(spec(), denseCache({ dtype: 'f32', initialCapacity: 4 }));
      const layer = cache.layers[1];
      const vs: number[][] = [[], []];
      const kHeads: number[][] = [[], []];
      let t = 0;
      for (const n of [7, 1, 1, 5, 1]) {
        const k = f32Values(randomArray(rng, 2 * n * 8));
        const v = f32Values(randomArray(rng, 2 * n * 8));
        for (let h = 0; h < 2; h++) {
          kHeads[h].push(...k.subarray(h * n * 8, (h + 1) * n * 8));
          vs[h].push(...v.subarray(h * n * 8, (h + 1) * n * 8));
        }
        layer.append(tensor(k, [2, n, 8]), tensor(v, [2, n, 8]), { positions: positions(t, n), phase: t === 0 ? 'prefill' : 'decode' });
        t += n;
        const q = f32Values(randomArray(rng, 4 * n * 8));
        const res = layer.attend(tensor(q, [4, n, 8]), { positions: positions(t - n, n), statistics: true });
        const ref = naiveAttention(q, [...kHeads[0], ...kHeads[1]], [...vs[0], ...vs[1]], { qHeads: 4, kvHeads: 2, m: n, n: t, d: 8, dv: 8 }, {
          scale: 1 / Math.sqrt(8), qPos: [...positions(t - n, n)], kPos: [...positions(0, t)], causal: true, window: 0, softcap: 0,
        });
        assertClose(res.output.readSync(), ref.out, 1e-6, `after ${t} tokens`);
        assertClose(res.statistics!.keySum.readSync(), ref.keySum, 1e-6);
      }
      expect(layer.length).toBe(15);
    }));

  it('stores the values once where they are the keys (valuesAreKeys): the same attention over K as V, half the bytes, another v refused', () =>
    withSeed((rng) => {
      const shared = createCache(spec({ kvHeads: 1, valuesAreKeys: true }), denseCache({ dtype: 'f32', initialCapacity: 4 })).layers[0];
      const both = createCache(spec({ kvHeads: 1 }), denseCache({ dtype: 'f32', initialCapacity: 4 })).layers[0];
      let t = 0;
      for (const n of [5, 1, 1]) {
        const k = tensor(randomArray(rng, n * 8), [1, n, 8]);
        const step = { positions: positions(t, n), phase: t === 0 ? ('prefill' as const) : ('decode' as const) };
        shared.append(k, k, step);
        both.append(k, k, step);
        t += n;
        const q = tensor(randomArray(rng, 4 * n * 8), [4, n, 8]);
        const options = { positions: positions(t - n, n), statistics: true, returnLse: true };
        const [a, b] = [shared.attend(q, options), both.attend(q, options)];
        expect(Array.from(a.output.readSync())).toEqual(Array.from(b.output.readSync()));
        expect(Array.from(a.lse!.readSync())).toEqual(Array.from(b.lse!.readSync()));
      }
      // Capacity 8 after growing: one copy of 8 tokens (7 stored, 1 reserved) against two.
      expect(shared.memory().parts).toEqual({ keys: 7 * 8 * 4, positions: 7 * 8, reserved: 8 * 4 + 8 });
      expect(both.memory().parts.values).toBe(7 * 8 * 4);
      // The f16 baseline of compression ratios counts one copy too.
      expect(denseF16Bytes(7, 1, 8, 1, true)).toBe(denseF16Bytes(7, 1, 8, 1) / 2);
      const k = tensor(randomArray(rng, 8), [1, 1, 8]);
      expect(() => shared.append(k, tensor(k.readFloat32Sync(), [1, 1, 8]), { positions: positions(7, 1), phase: 'decode' })).toThrow(/valuesAreKeys/);
      expect(shared.length).toBe(7);
    }));

  it('clear() drops every token: what it holds next attends like a fresh layer, its buffers kept as reserved', () =>
    withSeed((rng) => {
      const [used, fresh] = [0, 1].map(() => createCache(spec(), denseCache({ dtype: 'f32', initialCapacity: 4 })).layers[0]);
      used.append(tensor(randomArray(rng, 2 * 9 * 8), [2, 9, 8]), tensor(randomArray(rng, 2 * 9 * 8), [2, 9, 8]), { positions: positions(0, 9), phase: 'prefill' });
      used.clear!();
      expect(used.length).toBe(0);
      expect(used.memory().parts).toEqual({ reserved: 16 * (2 * 2 * 8 * 4 + 8) });
      const [k, v] = [tensor(randomArray(rng, 2 * 3 * 8), [2, 3, 8]), tensor(randomArray(rng, 2 * 3 * 8), [2, 3, 8])];
      for (const layer of [used, fresh]) layer.append(k, v, { positions: positions(9, 3), phase: 'prefill' });
      const q = tensor(randomArray(rng, 4 * 3 * 8), [4, 3, 8]);
      const [a, b] = [used, fresh].map((layer) => layer.attend(q, { positions: positions(9, 3) }).output.readSync());
      expect(Array.from(a)).toEqual(Array.from(b));
    }));

  it('f16 storage matches attention over f16-rounded K/V', () =>
    withSeed((rng) => {
      const layer = createCache(spec(), denseCache({ dtype: 'f16' })).layers[0];
      const k = tensor(randomArray(rng, 2 * 6 * 8), [2, 6, 8]);
      const v = tensor(randomArray(rng, 2 * 6 * 8), [2, 6, 8]);
      layer.append(k, v, { positions: positions(0, 6), phase: 'prefill' });
      const q = tensor(randomArray(rng, 4 * 2 * 8), [4, 2, 8]);
      const out = layer.attend(q, { positions: positions(4, 2) }).output;
      const kh = tensor(k.readFloat32Sync(), [2, 6, 8], { dtype: 'f16' });
      const vh = tensor(v.readFloat32Sync(), [2, 6, 8], { dtype: 'f16' });
      const ref = attention(q, kh, vh, {}).output;
      assertClose(out.readSync(), ref.readSync(), 1e-7);
    }));

  it('a failed append leaves the cache exactly as it was', () =>
    withSeed((rng) => {
      const layer = createCache(spec(), denseCache({ dtype: 'f32', initialCapacity: 2 })).layers[0];
      const k = tensor(randomArray(rng, 2 * 3 * 8), [2, 3, 8]);
      layer.append(k, k, { positions: positions(0, 3), phase: 'prefill' });
      const q = tensor(randomArray(rng, 4 * 8), [4, 1, 8]);
      const before = layer.attend(q, { positions: positions(3, 1) }).output.readSync();
      const memBefore = layer.memory();
      const bad: [() => void, string][] = [
        [() => layer.append(tensor(new Float32Array(3 * 2 * 8), [3, 2, 8]), k, { positions: positions(3, 2), phase: 'decode' }), 'SHAPE_MISMATCH'],
        [() => layer.append(k, slice(k, [0, 0, 0], [2, 2, 8]), { positions: positions(3, 3), phase: 'decode' }), 'SHAPE_MISMATCH'],
        [() => layer.append(k, k, { positions: positions(3, 2), phase: 'decode' }), 'SHAPE_MISMATCH'],
        [() => layer.append(k, k, { positions: Int32Array.from([-1, 4, 5]), phase: 'decode' }), 'INVALID_CONFIG'],
        [() => layer.append(tensor(new Int32Array(48), [2, 3, 8]), k, { positions: positions(3, 3), phase: 'decode' }), 'UNSUPPORTED_DTYPE'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
      expect(layer.length).toBe(3);
      expect(layer.memory()).toEqual(memBefore);
      expect(Array.from(layer.attend(q, { positions: positions(3, 1) }).output.readSync())).toEqual(Array.from(before));
      expect(() => layer.attend(tensor(new Float32Array(3 * 8), [3, 1, 8]), { positions: positions(3, 1) })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    }));

  it('reports resident bytes by part, capacity included, and sums layers', () => {
    const cache = createCache(spec(), denseCache({ dtype: 'f16', initialCapacity: 8 }));
    const k = tensor(new Float32Array(2 * 5 * 8), [2, 5, 8]);
    for (const layer of cache.layers) layer.append(k, k, { positions: positions(0, 5), phase: 'prefill' });
    const layerReport = cache.layers[0].memory();
    expect(layerReport.parts.keys).toBe(2 * 5 * 8 * 2);
    expect(layerReport.parts.values).toBe(2 * 5 * 8 * 2);
    expect(layerReport.parts.reserved).toBe(2 * 2 * 3 * 8 * 2 + 8 * 3);
    expect(layerReport.bytes).toBe(Object.values(layerReport.parts).reduce((a, b) => a + b, 0));
    const report = cache.memory();
    expect(report.bytes).toBe(2 * layerReport.bytes);
    expect(report.layers).toHaveLength(2);
    expect(report.tokens).toBe(5);
    expect(report.parts.keys + report.parts.values).toBe(denseF16Bytes(5, 2, 8, 2));
  });

  it('grows past its initial capacity without losing tokens', () => {
    const layer = createCache(spec(), denseCache({ dtype: 'f32', initialCapacity: 1 })).layers[0];
    const all: Float32Array[] = [];
    for (let t = 0; t < 9; t++) {
      const k = tensor(Float32Array.from({ length: 16 }, (_, i) => t * 100 + i), [2, 1, 8]);
      all.push(k.readSync() as Float32Array);
      layer.append(k, k, { positions: positions(t, 1), phase: 'decode' });
    }
    // A query that attends only to the last key (by huge dot product) returns that key's value.
    const q = tensor(Float32Array.from({ length: 4 * 8 }, () => 1), [4, 1, 8]);
    const out = layer.attend(q, { positions: positions(8, 1), scale: 10 }).output.readSync();
    expect(Array.from(out.slice(0, 8))).toEqual(Array.from(all[8].slice(0, 8)));
    expect(layer.length).toBe(9);
  });

  it('validates the spec and the options', () => {
    expect(() => createCache(spec({ qHeads: 3 }))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => createCache(spec({ numLayers: 0 }))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => denseCache({ dtype: 'bf16' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    const perLayer = createCache(spec(), { perLayer: (i) => denseCache({ dtype: i === 0 ? 'f32' : 'f16' }) });
    expect((perLayer.layers[0] as unknown as { dtype: string }).dtype).toBe('f32');
    expect((perLayer.layers[1] as unknown as { dtype: string }).dtype).toBe('f16');
    const cache = createCache(spec());
    cache.dispose();
    expect(() => cache.layers[0].memory()).not.toThrow();
    expect(() => cache.layers[0].append(tensor(new Float32Array(16), [2, 1, 8]), tensor(new Float32Array(16), [2, 1, 8]), { positions: positions(0, 1), phase: 'decode' })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });
});

describe('createCache', () => {
  it("gives each layer its own rope where the spec lists one per layer (layerRopes), else the model's", () => {
    const seen: CacheSpec['rope'][] = [];
    const collect = (layerSpec: Parameters<ReturnType<typeof denseCache>>[0]) => {
      seen[layerSpec.layerIndex] = layerSpec.rope;
      return denseCache({ dtype: 'f32' })(layerSpec);
    };
    const global = spec().rope;
    const local = { invFreq: ropeInverseFrequencies(8, 100), layout: 'half' as const };
    const none = { invFreq: new Float32Array(4), layout: 'half' as const };
    createCache(spec({ numLayers: 3, layerRopes: [local, none, global] }), collect).dispose();
    expect(seen).toEqual([local, none, global]);
    createCache(spec({ numLayers: 2 }), collect).dispose();
    expect(seen.slice(0, 2)).toEqual([global, global]);
    expect(() => createCache(spec({ numLayers: 2, layerRopes: [local] }), collect)).toThrow(/layerRopes holds 1 ropes for 2 layers/);
  });
});

describe('recurrent state (CacheSpec.recurrentState)', () => {
  it('gives the cache zeroed slots, counts them as the part "recurrent", and replaces a slot whole on write', () => {
    // Slots of their own shapes and dtypes (a state-space layer's f16 convolution rows beside its f32 scan state).
    const slots = [{ shape: [2, 5], dtype: 'f32' }, { shape: [2, 5], dtype: 'f32' }, { shape: [3, 4, 2], dtype: 'f16' }] as const;
    const cache = createCache(spec({ recurrentState: { slots } }), denseCache({ dtype: 'f32', initialCapacity: 4 }));
    const state = cache.recurrentState!;
    expect(state.read(0).readSync()).toEqual(new Float32Array(10));
    expect([state.read(2).shape, state.read(2).dtype]).toEqual([[3, 4, 2], 'f16']);
    const layersOnly = cache.layers.reduce((sum, layer) => sum + layer.memory().bytes, 0);
    const report = cache.memory();
    expect(report.parts.recurrent).toBe(2 * 10 * 4 + 24 * 2);
    expect(report.bytes).toBe(layersOnly + 2 * 10 * 4 + 24 * 2);
    expect(report.layers).toHaveLength(2);
    const before = state.read(1);
    const next = tensor(Float32Array.from({ length: 10 }, (_, i) => i), [2, 5]);
    state.write(1, next);
    expect(state.read(1)).toBe(next);
    expect(before.isDisposed).toBe(true);
    expect(state.read(0).readSync()).toEqual(new Float32Array(10));
    cache.dispose();
    expect(next.isDisposed).toBe(true);
    expect(() => state.read(0)).toThrow(DisposedError);
  });

  it('refuses a slot out of range, another shape or dtype, and leaves the slot as it was', () => {
    const cache = createCache(spec({ recurrentState: { slots: [{ shape: [2, 5], dtype: 'f32' }, { shape: [2, 5], dtype: 'f32' }] } }), denseCache({ dtype: 'f32' }));
    const state = cache.recurrentState!;
    const held = state.read(0);
    expect(() => state.write(2, tensor(new Float32Array(10), [2, 5]))).toThrow(IndexOutOfRangeError);
    expect(() => state.write(0, tensor(new Float32Array(10), [5, 2]))).toThrow(ShapeMismatchError);
    expect(() => state.write(0, tensor(new Float32Array(10), [2, 5], { dtype: 'f16' }))).toThrow(DTypeMismatchError);
    expect(state.read(0)).toBe(held);
    expect(held.isDisposed).toBe(false);
    expect(() => state.read(-1)).toThrow(IndexOutOfRangeError);
    cache.dispose();
  });

  it('is absent where the spec asks for none', () => {
    const cache = createCache(spec(), denseCache());
    expect(cache.recurrentState).toBeUndefined();
    expect(cache.memory().parts.recurrent).toBeUndefined();
  });
});

describe('formatBytes', () => {
  it('writes bytes in binary units', () => {
    expect([0, 1023, 1024, 1536, (1 << 20) - 1, 3.2e6].map(formatBytes)).toEqual(['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '1024.0 KiB', '3.05 MiB']);
  });
});
