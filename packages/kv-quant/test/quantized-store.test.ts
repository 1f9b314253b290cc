import {
  DisposedError,
  IndexOutOfRangeError,
  InvalidConfigError,
  resolveParams,
  ShapeMismatchError,
  type StoreSpec,
  tensor,
  UnsupportedBitWidthError,
  UnsupportedDTypeError,
} from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { listStores, QuantizedTokenStore, quantizedStore } from '../src/index.js';
import { cpu, f16, positions, randomArray } from './helpers.js';

const d = 64;
const spec = (over: Partial<StoreSpec> = {}): StoreSpec => ({ kvHeads: 2, headDim: d, backend: cpu, layerIndex: 0, ...over });
const build = (options: Parameters<typeof quantizedStore>[0], over: Partial<StoreSpec> = {}) => quantizedStore(options)(spec(over)) as QuantizedTokenStore;
const kv = (data: Float32Array, heads: number, n: number, dtype: 'f32' | 'f16' | 'i32' = 'f32') => tensor(data, [heads, n, d], { dtype, backend: cpu });

/** One f16 ulp at |x| (the spacing of f16 values there). */
const ulp16 = (x: number) => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(x) || 2 ** -24)), -14) - 10);

/**
 * The bound every dequantized value obeys, in float64 from the paper definition of min–max codes:
 * zero = lo rounded down to f16 (at most one ulp below lo), scale = (hi − zero)/(2^b − 1) rounded up
 * to f16 (relative error ≤ 2^-10), so |x − x̂| ≤ scale/2, plus the f32 rounding of x̂.
 */
function roundTripBound(group: ArrayLike<number>, bits: number): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < group.length; i++) {
    lo = Math.min(lo, group[i]);
    hi = Math.max(hi, group[i]);
  }
  const scale = ((hi - lo + ulp16(lo)) / (2 ** bits - 1)) * (1 + 2 ** -10) + ulp16(hi - lo);
  return scale / 2 + 2 ** -23 * Math.max(Math.abs(lo), Math.abs(hi));
}

/** Packed-layout bytes of one vector of d codes at b bits in groups of g: ⌊32/b⌋ codes per u32 word, words per group. */
const codeBytes = (bits: number, g: number) => (d / g) * 4 * Math.ceil(g / Math.floor(32 / bits));
/** Resident bytes of one token of one head: key and value codes, f16 scale and zero per group each, an i32 position. */
const tokenBytes = (keyBits: number, valueBits: number, g: number) => codeBytes(keyBits, g) + codeBytes(valueBits, g) + 2 * (d / g) * 2 * 2 + 4;

const total = (parts: Record<string, number>) => Object.values(parts).reduce((a, b) => a + b, 0);

describe('quantizedStore: a TokenStore of per-token codes in channel groups', () => {
  for (const bits of [2, 3, 4, 8]) {
    it(`${bits}-bit round trip: every value within the min–max bound of its group; read and view agree`, () =>
      withSeed((rng) => {
        const n = 12;
        const k = randomArray(rng, 2 * n * d, 2);
        const v = randomArray(rng, 2 * n * d, 0.5);
        const store = build({ bits, groupSize: 16 });
        store.append(kv(k, 2, n), kv(v, 2, n), positions(5, n));
        let worst = 0;
        for (let h = 0; h < 2; h++) {
          const { keys, values } = store.read(h);
          for (const [back, source] of [
            [keys, k],
            [values, v],
          ] as const) {
            for (let t = 0; t < n; t++) {
              for (let g = 0; g < d / 16; g++) {
                const from = (h * n + t) * d + g * 16;
                const group = source.subarray(from, from + 16);
                const bound = roundTripBound(group, bits);
                for (let i = 0; i < 16; i++) {
                  const err = Math.abs(back[t * d + g * 16 + i] - group[i]);
                  expect(err).toBeLessThanOrEqual(bound);
                  worst = Math.max(worst, err / bound);
                }
              }
            }
          }
          const view = store.view(h);
          expect(view.keys.shape).toEqual([1, n, d]);
          expect(Array.from(view.keys.readFloat32Sync())).toEqual(Array.from(keys));
          expect(Array.from(view.values.readFloat32Sync())).toEqual(Array.from(values));
          expect(Array.from(view.positions)).toEqual(Array.from(positions(5, n)));
          view.dispose();
        }
        // Codes really are that coarse: the worst error uses a good part of the bound.
        expect(worst).toBeGreaterThan(0.5);
        store.dispose();
      }));
  }

  it('separate key and value widths, f16 input: keys at 8 bits are far closer than values at 2 bits', () =>
    withSeed((rng) => {
      const n = 16;
      const k = Float32Array.from(randomArray(rng, 2 * n * d), f16);
      const v = Float32Array.from(randomArray(rng, 2 * n * d), f16);
      const store = build({ keyBits: 8, valueBits: 2 });
      store.append(kv(k, 2, n, 'f16'), kv(v, 2, n, 'f16'), positions(0, n));
      const { keys, values } = store.read(1);
      let keyErr = 0;
      let valueErr = 0;
      for (let i = 0; i < n * d; i++) {
        const group = Math.floor((i % d) / 32) * 32 + Math.floor(i / d) * d;
        keyErr = Math.max(keyErr, Math.abs(keys[i] - k[n * d + i]) / roundTripBound(k.subarray(n * d + group, n * d + group + 32), 8));
        valueErr = Math.max(valueErr, Math.abs(values[i] - v[n * d + i]) / roundTripBound(v.subarray(n * d + group, n * d + group + 32), 2));
      }
      expect(keyErr).toBeLessThanOrEqual(1);
      expect(valueErr).toBeLessThanOrEqual(1);
      expect(store.memory().codes).toBe(2 * n * (codeBytes(8, 32) + codeBytes(2, 32)));
    }));

  it('memory counts codes, scales, zeros, positions and reserved capacity at their packed sizes', () =>
    withSeed((rng) => {
      const n = 20;
      for (const [bits, g] of [
        [4, 32],
        [3, 32],
        [3, 64],
        [2, 16],
      ]) {
        const store = build({ bits, groupSize: g, minCapacity: 8 });
        store.append(kv(randomArray(rng, 2 * n * d), 2, n), kv(randomArray(rng, 2 * n * d), 2, n), positions(0, n));
        const memory = store.memory();
        expect(memory.codes).toBe(2 * n * 2 * codeBytes(bits, g));
        expect(memory.scales).toBe(2 * n * 2 * (d / g) * 2);
        expect(memory.zeros).toBe(2 * n * 2 * (d / g) * 2);
        expect(memory.positions).toBe(2 * n * 4);
        // Capacity doubled from 8 to 32 for 20 tokens.
        expect(store.capacity(0)).toBe(32);
        expect(memory.reserved).toBe(2 * (32 - n) * tokenBytes(bits, bits, g));
        expect(total(memory)).toBe(2 * 32 * tokenBytes(bits, bits, g));
      }
    }));

  it('retain keeps the listed rows bit-exact and frees exactly the dropped tokens’ bytes', () =>
    withSeed((rng) => {
      const n = 40;
      const store = build({ bits: 4, minCapacity: 64 });
      store.append(kv(randomArray(rng, 2 * n * d), 2, n), kv(randomArray(rng, 2 * n * d), 2, n), positions(100, n));
      const before = store.read(0);
      const otherHead = store.read(1);
      const memoryBefore = store.memory();
      const keep = Int32Array.from({ length: n }, (_, i) => i).filter((i) => rng.uniform() < 0.5 || i === 0);
      store.retain(0, keep);
      expect(store.count(0)).toBe(keep.length);
      expect(store.count(1)).toBe(n);
      expect(Array.from(store.positions(0))).toEqual(Array.from(keep, (i) => 100 + i));
      const after = store.read(0);
      keep.forEach((from, to) => {
        expect(Array.from(after.keys.subarray(to * d, (to + 1) * d))).toEqual(Array.from(before.keys.subarray(from * d, (from + 1) * d)));
        expect(Array.from(after.values.subarray(to * d, (to + 1) * d))).toEqual(Array.from(before.values.subarray(from * d, (from + 1) * d)));
      });
      expect(store.read(1)).toEqual(otherHead);
      const dropped = n - keep.length;
      const memory = store.memory();
      const perToken = tokenBytes(4, 4, 32);
      const stored = (m: Record<string, number>) => m.codes + m.scales + m.zeros + m.positions;
      expect(stored(memoryBefore) - stored(memory)).toBe(dropped * perToken);
      // Capacity 64 per head stays (no shrink below minCapacity): the freed rows become reserved.
      expect(store.capacity(0)).toBe(64);
      expect(memory.reserved - memoryBefore.reserved).toBe(dropped * perToken);
    }));

  it('retain shrinks a mostly empty head, so the total falls with the evicted tokens', () =>
    withSeed((rng) => {
      const n = 200;
      const store = build({ bits: 2, minCapacity: 4 });
      store.append(kv(randomArray(rng, 2 * n * d), 2, n), kv(randomArray(rng, 2 * n * d), 2, n), positions(0, n));
      const perToken = tokenBytes(2, 2, 32);
      expect(total(store.memory())).toBe(2 * 256 * perToken);
      store.retain(0, Int32Array.from({ length: 20 }, (_, i) => 10 * i));
      // 20 kept + max(4, ⌈20/8⌉) headroom.
      expect(store.capacity(0)).toBe(24);
      expect(total(store.memory())).toBe((256 + 24) * perToken);
      store.retain(1, new Int32Array(0));
      expect(store.count(1)).toBe(0);
      expect(total(store.memory())).toBe((4 + 24) * perToken);
      expect(store.view(1).keys.shape).toEqual([1, 0, d]);
      // The store keeps working after a full eviction.
      store.append(kv(randomArray(rng, 2 * d), 2, 1), kv(randomArray(rng, 2 * d), 2, 1), Int32Array.of(200));
      expect([store.count(0), store.count(1)]).toEqual([21, 1]);
      expect(store.positions(1)[0]).toBe(200);
    }));

  it('write re-quantizes exactly one token (its own scales and zeros); appendHead adds to one head', () =>
    withSeed((rng) => {
      const n = 8;
      const store = build({ bits: 3, groupSize: 16 });
      store.append(kv(randomArray(rng, 2 * n * d), 2, n), kv(randomArray(rng, 2 * n * d), 2, n), positions(0, n));
      const before = store.read(1);
      // A vector on a much larger scale than its neighbours: only its own groups can represent it.
      const key = randomArray(rng, d, 50);
      const value = randomArray(rng, d, 50);
      store.write(1, 3, key, value);
      const after = store.read(1);
      for (let t = 0; t < n; t++) {
        const row = (a: Float32Array) => Array.from(a.subarray(t * d, (t + 1) * d));
        if (t !== 3) {
          expect(row(after.keys)).toEqual(row(before.keys));
          expect(row(after.values)).toEqual(row(before.values));
          continue;
        }
        for (let i = 0; i < d; i++) {
          const g = Math.floor(i / 16) * 16;
          expect(Math.abs(after.keys[t * d + i] - key[i])).toBeLessThanOrEqual(roundTripBound(key.subarray(g, g + 16), 3));
          expect(Math.abs(after.values[t * d + i] - value[i])).toBeLessThanOrEqual(roundTripBound(value.subarray(g, g + 16), 3));
        }
      }
      // Same codes as quantizing the vector alone in a fresh store.
      const alone = build({ bits: 3, groupSize: 16 }, { kvHeads: 1 });
      alone.appendHead(0, key, value, Int32Array.of(3));
      expect(Array.from(alone.read(0).keys)).toEqual(Array.from(after.keys.subarray(3 * d, 4 * d)));

      const extraKeys = randomArray(rng, 2 * d);
      store.appendHead(0, extraKeys, randomArray(rng, 2 * d), Int32Array.of(50, 51));
      expect([store.count(0), store.count(1)]).toEqual([n + 2, n]);
      expect(Array.from(store.positions(0).subarray(n))).toEqual([50, 51]);
      const tail = store.read(0).keys.subarray(n * d);
      for (let i = 0; i < 2 * d; i++) {
        const g = Math.floor(i / 32) * 32;
        expect(Math.abs(tail[i] - extraKeys[i])).toBeLessThanOrEqual(roundTripBound(extraKeys.subarray(g, g + 32), 3));
      }
    }));

  it('bad input throws typed errors and leaves the store as it was', () =>
    withSeed((rng) => {
      const n = 6;
      const store = build({ bits: 4 });
      store.append(kv(randomArray(rng, 2 * n * d), 2, n), kv(randomArray(rng, 2 * n * d), 2, n), positions(0, n));
      const snapshot = () => ({ memory: store.memory(), counts: [store.count(0), store.count(1)], heads: [store.read(0), store.read(1)], positions: Array.from(store.positions(0)) });
      const before = snapshot();
      const good = kv(randomArray(rng, 2 * 3 * d), 2, 3);
      const bad: [() => void, new (...args: never[]) => Error][] = [
        [() => store.append(good, kv(randomArray(rng, 2 * 2 * d), 2, 2), positions(6, 3)), ShapeMismatchError],
        [() => store.append(good, good, positions(6, 2)), ShapeMismatchError],
        [() => store.append(tensor(randomArray(rng, 3 * 3 * d), [3, 3, d], { backend: cpu }), good, positions(6, 3)), ShapeMismatchError],
        [() => store.append(good, kv(new Float32Array(2 * 3 * d).fill(3), 2, 3, 'i32'), positions(6, 3)), UnsupportedDTypeError],
        [() => store.append(good, good, [6, 7, 8] as unknown as Int32Array), InvalidConfigError],
        [() => store.appendHead(0, new Float32Array(d), new Float32Array(d), positions(6, 2)), ShapeMismatchError],
        [() => store.appendHead(2, new Float32Array(d), new Float32Array(d), positions(6, 1)), IndexOutOfRangeError],
        [() => store.retain(0, Int32Array.of(0, 6)), IndexOutOfRangeError],
        [() => store.retain(0, Int32Array.of(2, 1)), InvalidConfigError],
        [() => store.write(0, n, new Float32Array(d), new Float32Array(d)), IndexOutOfRangeError],
        [() => store.write(0, 0, new Float32Array(d - 1), new Float32Array(d)), ShapeMismatchError],
      ];
      for (const [call, type] of bad) {
        expect(call).toThrow(type);
        expect(snapshot()).toEqual(before);
      }
      store.dispose();
      expect(() => store.count(0)).toThrow(DisposedError);
    }));

  it('rejects unsupported widths and group sizes with typed errors', () => {
    for (const options of [{ bits: 5 }, { bits: 1 }, { keyBits: 6 }, { valueBits: 16 }]) {
      expect(() => quantizedStore(options)).toThrow(UnsupportedBitWidthError);
      try {
        quantizedStore(options);
      } catch (error) {
        expect((error as UnsupportedBitWidthError).code).toBe('UNSUPPORTED_BIT_WIDTH');
      }
    }
    for (const options of [{ groupSize: 0 }, { groupSize: 2.5 }, { minCapacity: 0 }, { dtype: 'f64' as 'f16' }]) {
      expect(() => quantizedStore(options)).toThrow(InvalidConfigError);
    }
    // Whether the group divides the head dimension is known when the layer's store is built.
    const factory = quantizedStore({ groupSize: 24 });
    expect(() => factory(spec())).toThrow(InvalidConfigError);
    expect(() => factory(spec())).toThrow(/group size 24 must be a positive integer dividing the head dimension \(64\)/);
    expect(() => factory(spec({ headDim: 48 }))).not.toThrow();
  });

  it('listStores describes the store with checked parameters', () => {
    const [descriptor] = listStores();
    expect(descriptor.name).toBe('quant');
    const params = resolveParams({ ...descriptor, create: () => undefined as never }, { bits: '2', valueBits: '8', group: '16' });
    expect(params).toEqual({ bits: 2, valueBits: 8, group: 16, dtype: 'f16' });
    const store = descriptor.create(params)(spec()) as QuantizedTokenStore;
    expect(store.label).toBe(
      'keys: uniform 2-bit asymmetric, per token in groups of 16 channels; values: uniform 8-bit asymmetric, per token in groups of 16 channels',
    );
    expect(() => resolveParams({ ...descriptor, create: () => undefined as never }, { bits: '5' })).toThrow(/bits=5 is not allowed; allowed: 2, 3, 4, 8/);
  });
});
