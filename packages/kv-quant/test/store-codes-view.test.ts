import { decodeAttention, flashAttention } from '@kvkit/attention-kernels';
import { attention, hostView, randomNormal, type StoreSpec, tensor, unpackCodes } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it, vi } from 'vitest';
import { UniformTokenCodec } from '../src/codecs/uniform-codec.js';
import { type QuantizedTokenStore, quantizedStore } from '../src/index.js';
import { cpu, positions, randomArray } from './helpers.js';

const d = 64;
const spec: StoreSpec = { kvHeads: 2, headDim: d, backend: cpu, layerIndex: 0 };

/** A store with n random tokens per head, then one head thinned (so rows moved and capacity is spare). */
function filledStore(rng: Parameters<Parameters<typeof withSeed>[0]>[0], options: Parameters<typeof quantizedStore>[0], n: number) {
  const store = quantizedStore(options)(spec) as QuantizedTokenStore;
  store.append(tensor(randomArray(rng, 2 * n * d), [2, n, d]), tensor(randomArray(rng, 2 * n * d), [2, n, d]), positions(0, n));
  store.retain(1, Int32Array.from({ length: Math.floor(n / 2) }, (_, i) => 2 * i + 1));
  return store;
}

describe('quantizedStore view: the codes in place, f32 rows only on demand', () => {
  for (const bits of [2, 3, 4, 8]) {
    for (const groupSize of [32, 64]) {
      it(`${bits}-bit, groups of ${groupSize}: view().codes decode (packed layout, code · scale + zero) to exactly what read() returns`, () =>
        withSeed((rng) => {
          const store = filledStore(rng, { bits, groupSize }, 40);
          for (let h = 0; h < 2; h++) {
            const n = store.count(h);
            const view = store.view(h);
            const { keys, values } = view.codes!;
            const read = store.read(h);
            for (const [codes, expected] of [
              [keys, read.keys],
              [values, read.values],
            ] as const) {
              expect(codes.bits).toBe(bits);
              expect(codes.groupSize).toBe(groupSize);
              expect(codes.codes.shape[0]).toBe(n);
              expect(codes.scales.shape).toEqual([n, d / groupSize]);
              const unpacked = unpackCodes(codes.codes.readSync() as Uint32Array, d, bits, groupSize);
              const scales = codes.scales.readFloat32Sync();
              const zeros = codes.zeros.readFloat32Sync();
              const decoded = Float32Array.from(unpacked, (c, i) => {
                const g = Math.floor(i / d) * (d / groupSize) + Math.floor((i % d) / groupSize);
                return c * scales[g] + zeros[g];
              });
              expect(Array.from(decoded)).toEqual(Array.from(expected));
            }
            view.dispose();
          }
        }));
    }
  }

  it('view() shares the store buffers and dequantizes nothing until keys/values are read (once)', () =>
    withSeed((rng) => {
      const store = filledStore(rng, { bits: 4 }, 50);
      const decode = vi.spyOn(UniformTokenCodec.prototype, 'decode');
      try {
        const a = store.view(0);
        const b = store.view(0);
        expect(decode).not.toHaveBeenCalled();
        // Both views read the same memory: the store's buffers, not copies.
        expect(hostView(a.codes!.keys.codes).buffer).toBe(hostView(b.codes!.keys.codes).buffer);
        expect(hostView(a.codes!.values.scales).buffer).toBe(hostView(b.codes!.values.scales).buffer);
        b.dispose();
        expect(a.keys.shape).toEqual([1, 50, d]);
        expect(decode).toHaveBeenCalledTimes(2); // keys and values, together
        expect(a.values.shape).toEqual([1, 50, d]);
        expect(Array.from(a.keys.readFloat32Sync())).toEqual(Array.from(store.read(0).keys));
        expect(decode).toHaveBeenCalledTimes(4); // + read()'s two
        a.dispose();
        expect(() => a.keys.readFloat32Sync()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
      } finally {
        decode.mockRestore();
      }
    }));

  it("attention over a view's codes equals the reference attention over its dequantized rows (decode and prefill, GQA)", () =>
    withSeed((rng) => {
      for (const [bits, groupSize, dtype] of [
        [4, 32, 'f16'],
        [2, 64, 'f32'],
        [3, 32, 'f16'],
        [8, 64, 'f16'],
      ] as const) {
        const store = filledStore(rng, { bits, groupSize, dtype }, 70);
        for (let h = 0; h < 2; h++) {
          const view = store.view(h);
          const n = view.positions.length;
          for (const m of [1, 6]) {
            const q = randomNormal([4, m, d], rng);
            const queryPositions = Int32Array.from({ length: m }, (_, i) => view.positions[n - m + i]);
            const ref = attention(q, view.keys, view.values, {
              keyPositions: tensor(view.positions, [n], { dtype: 'i32' }),
              queryPositions: tensor(queryPositions, [m], { dtype: 'i32' }),
              statistics: true,
            });
            const op = m === 1 ? decodeAttention : flashAttention;
            const got = op(q, { codes: view.codes!.keys }, { codes: view.codes!.values }, { keyPositions: view.positions, queryPositions, statistics: true });
            const label = `${bits}-bit g${groupSize} ${dtype} head ${h} m ${m}`;
            assertClose(got.output.readSync(), ref.output.readSync(), 1e-5, label);
            assertClose(got.statistics!.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5, `keySum ${label}`);
          }
          view.dispose();
        }
      }
    }));

  it('an empty head gives empty codes and empty rows', () => {
    const store = quantizedStore({ bits: 4 })(spec) as QuantizedTokenStore;
    const view = store.view(1);
    expect(view.codes!.keys.codes.shape[0]).toBe(0);
    expect(view.keys.shape).toEqual([1, 0, d]);
    view.dispose();
  });
});
