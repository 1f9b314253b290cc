import { IndexOutOfRangeError, InvalidConfigError, ShapeMismatchError, tensor } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type RaggedDenseStore, raggedDenseStore } from '../src/index.js';
import { backend, f32, positions, randomArray } from './helpers.js';

const spec = { kvHeads: 2, headDim: 4, backend, layerIndex: 0 };

describe('raggedDenseStore', () => {
  it('appends to every head, keeps per-head positions, and compacts one head at a time', () =>
    withSeed((rng) => {
      const store = raggedDenseStore({ dtype: 'f32' })(spec);
      const k = randomArray(rng, 2 * 5 * 4);
      const v = randomArray(rng, 2 * 5 * 4);
      store.append(tensor(k, [2, 5, 4], { backend }), tensor(v, [2, 5, 4], { backend }), positions(10, 5));
      store.retain(1, Int32Array.of(0, 3, 4));
      expect(store.count(0)).toBe(5);
      expect(store.count(1)).toBe(3);
      expect([...store.positions(1)]).toEqual([10, 13, 14]);
      const head1 = store.read(1);
      const expected = [0, 3, 4].flatMap((i) => [...k.subarray(20 + i * 4, 20 + i * 4 + 4)]);
      expect([...head1.keys]).toEqual(expected);
      const view = store.view(1);
      expect(view.keys.shape).toEqual([1, 3, 4]);
      expect([...f32(view.values)]).toEqual([0, 3, 4].flatMap((i) => [...v.subarray(20 + i * 4, 20 + i * 4 + 4)]));
      view.dispose();
      store.dispose();
    }));

  it('memory falls by exactly the evicted tokens and counts unused capacity as reserved', () =>
    withSeed((rng) => {
      const store = raggedDenseStore({ dtype: 'f16', minCapacity: 4 })(spec);
      const n = 40;
      store.append(tensor(randomArray(rng, 2 * n * 4), [2, n, 4], { backend }), tensor(randomArray(rng, 2 * n * 4), [2, n, 4], { backend }), positions(0, n));
      const before = store.memory();
      const rowBytes = 4 * 2; // headDim × f16
      expect(before.keys).toBe(2 * n * rowBytes);
      expect(before.positions).toBe(2 * n * 4);
      store.retain(0, Int32Array.from({ length: 10 }, (_, i) => i * 4));
      const after = store.memory();
      const evicted = 30;
      expect(before.keys - after.keys).toBe(evicted * rowBytes);
      expect(before.values - after.values).toBe(evicted * rowBytes);
      expect(before.positions - after.positions).toBe(evicted * 4);
      // A bulk append allocates exactly (capacity 40); head 0 then shrank to 10 kept + 4 headroom.
      expect(before.reserved).toBe(0);
      expect(after.reserved).toBe((14 - 10) * (2 * rowBytes + 4));
      expect(after.keys + after.values + after.positions + after.reserved).toBeLessThan(before.keys + before.values + before.positions + before.reserved);
      store.dispose();
    }));

  it('grows by an eighth while tokens arrive one at a time, so reserved capacity stays a small share', () =>
    withSeed((rng) => {
      // Decoding appends one token per step, and merged stores (MiniCache) only ever grow: doubling
      // would leave up to half the buffer allocated and empty, reported as reserved bytes.
      const minCapacity = 4;
      const store = raggedDenseStore({ dtype: 'f16', minCapacity })(spec) as RaggedDenseStore;
      for (let t = 0; t < 300; t++) {
        store.append(tensor(randomArray(rng, 2 * 4), [2, 1, 4], { backend }), tensor(randomArray(rng, 2 * 4), [2, 1, 4], { backend }), positions(t, 1));
        store.appendHead(0, randomArray(rng, 4), randomArray(rng, 4), Int32Array.of(1000 + t));
        for (const head of [0, 1]) {
          const count = store.count(head);
          expect(store.capacity(head)).toBeGreaterThanOrEqual(count);
          expect(store.capacity(head)).toBeLessThanOrEqual(count + Math.max(minCapacity, Math.ceil(count / 8)));
        }
      }
      expect(store.count(0)).toBe(600);
      store.dispose();
    }));

  it('writes a merged vector in place and appends host rows to one head', () => {
    const store = raggedDenseStore({ dtype: 'f32' })(spec);
    store.append(tensor(new Float32Array(2 * 2 * 4).fill(1), [2, 2, 4], { backend }), tensor(new Float32Array(16).fill(2), [2, 2, 4], { backend }), positions(0, 2));
    store.write(0, 1, Float32Array.of(5, 6, 7, 8), Float32Array.of(9, 9, 9, 9));
    store.appendHead(1, Float32Array.of(3, 3, 3, 3), Float32Array.of(4, 4, 4, 4), Int32Array.of(7));
    expect([...store.read(0).keys]).toEqual([1, 1, 1, 1, 5, 6, 7, 8]);
    expect([...store.read(0).values.subarray(4)]).toEqual([9, 9, 9, 9]);
    expect(store.count(1)).toBe(3);
    expect([...store.positions(1)]).toEqual([0, 1, 7]);
    store.dispose();
  });

  it('rejects bad input with typed errors and leaves the store unchanged', () => {
    const store = raggedDenseStore({ dtype: 'f32' })(spec);
    store.append(tensor(new Float32Array(16), [2, 2, 4], { backend }), tensor(new Float32Array(16), [2, 2, 4], { backend }), positions(0, 2));
    const before = store.memory();
    expect(() => store.append(tensor(new Float32Array(12), [1, 3, 4], { backend }), tensor(new Float32Array(12), [1, 3, 4], { backend }), positions(2, 3))).toThrow(ShapeMismatchError);
    expect(() => store.retain(0, Int32Array.of(1, 0))).toThrow(InvalidConfigError);
    expect(() => store.retain(0, Int32Array.of(5))).toThrow(IndexOutOfRangeError);
    expect(() => store.write(0, 2, new Float32Array(4), new Float32Array(4))).toThrow(IndexOutOfRangeError);
    expect(() => store.count(2)).toThrow(IndexOutOfRangeError);
    expect(() => raggedDenseStore({ dtype: 'bf16' as 'f16' })).toThrow(InvalidConfigError);
    expect(store.memory()).toEqual(before);
    expect(store.count(0)).toBe(2);
    store.dispose();
  });
});
