// Evict + quantize with attention reading the store's codes in place: the same outputs and the same
// evictions as attention over the dequantized rows, and no dequantization on that path.
import { clusterKV, compensationPolicy, h2o, snapKV } from '@kvkit/kv-evict';
import { type CacheLayerFactory, type KVCacheLayer, tensor, type TokenStoreFactory } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it, vi } from 'vitest';
import { UniformTokenCodec } from '../src/codecs/uniform-codec.js';
import { QuantizedTokenStore, quantizedStore } from '../src/index.js';
import { dequantizingViews } from './dequantizing-views.js';
import { cpu, layerSpec, positions, randomArray } from './helpers.js';

const d = 64;
const spec = layerSpec({ qHeads: 4, kvHeads: 2, headDim: d });

type Method = (store: TokenStoreFactory) => CacheLayerFactory;

/** A prefill of n tokens (flash kernel), then decode steps (split-K kernel; a step's 4·d numbers are its query, and its key and value); every output, and what each head kept. */
function run(method: Method, store: TokenStoreFactory, inputs: { k: Float32Array; v: Float32Array; q: Float32Array; steps: Float32Array[] }, n: number) {
  const layer = method(store)(spec) as KVCacheLayer & { storedPositions?(head: number): Int32Array };
  layer.append(tensor(inputs.k.subarray(0, 2 * n * d), [2, n, d], { backend: cpu }), tensor(inputs.v.subarray(0, 2 * n * d), [2, n, d], { backend: cpu }), {
    positions: positions(0, n),
    phase: 'prefill',
  });
  const outputs = [Float32Array.from(layer.attend(tensor(inputs.q, [4, n, d], { backend: cpu }), { positions: positions(0, n) }).output.readFloat32Sync())];
  inputs.steps.forEach((step, i) => {
    const p = n + i;
    const kv = (from: number) => tensor(step.subarray(from, from + 2 * d), [2, 1, d], { backend: cpu });
    layer.append(kv(0), kv(2 * d), { positions: Int32Array.of(p), phase: 'decode' });
    outputs.push(Float32Array.from(layer.attend(tensor(step.subarray(0, 4 * d), [4, 1, d], { backend: cpu }), { positions: Int32Array.of(p) }).output.readFloat32Sync()));
  });
  const kept = [0, 1].map((h) => Array.from(layer.storedPositions?.(h) ?? []));
  layer.dispose();
  return { outputs, kept };
}

const methods: [string, Method][] = [
  ['h2o', (store) => h2o({ budget: 0.5, store })],
  ['snapkv', (store) => snapKV({ budget: 0.5, observationWindow: 8, store })],
  ['clusterkv', (store) => clusterKV({ budget: 24, recent: 8, clusterSize: 8, store })],
  ['h2o + compensation token (extra keys)', (store) => h2o({ budget: 0.5, policy: compensationPolicy(), store })],
];

describe('evict + quantize: attention reads the quantized store in place', () => {
  for (const [name, method] of methods) {
    it(`${name}: the same outputs and evictions as attention over the dequantized kept tokens`, () =>
      withSeed((rng) => {
        const n = 64;
        const inputs = {
          k: randomArray(rng, 2 * n * d),
          v: randomArray(rng, 2 * n * d),
          q: randomArray(rng, 4 * n * d),
          steps: Array.from({ length: 6 }, () => randomArray(rng, 4 * d)),
        };
        for (const bits of [4, 2]) {
          const fused = run(method, quantizedStore({ bits }), inputs, n);
          const dequantized = run(method, dequantizingViews(quantizedStore({ bits })), inputs, n);
          expect(fused.kept).toEqual(dequantized.kept);
          fused.outputs.forEach((out, i) => assertClose(out, dequantized.outputs[i], 1e-5, `${name} ${bits}-bit call ${i}`));
        }
      }));
  }

  it('on that path view() never dequantizes (codec decodes only for read(), e.g. ClusterKV clustering keys)', () =>
    withSeed((rng) => {
      const n = 48;
      const inputs = { k: randomArray(rng, 2 * n * d), v: randomArray(rng, 2 * n * d), q: randomArray(rng, 4 * n * d), steps: Array.from({ length: 3 }, () => randomArray(rng, 4 * d)) };
      const decode = vi.spyOn(UniformTokenCodec.prototype, 'decode');
      const read = vi.spyOn(QuantizedTokenStore.prototype, 'read');
      const viewDecodes = () => decode.mock.calls.length - 2 * read.mock.calls.length; // read() decodes keys and values
      try {
        for (const [name, method] of methods.slice(0, 3)) {
          decode.mockClear();
          read.mockClear();
          run(method, quantizedStore({ bits: 4 }), inputs, n);
          expect(viewDecodes(), name).toBe(0);
        }
        expect(read).toHaveBeenCalled(); // ClusterKV (the last one) clusters the keys it reads
        // Extra keys (a compensation token) still take the dequantized path.
        decode.mockClear();
        read.mockClear();
        run(methods[3][1], quantizedStore({ bits: 4 }), inputs, n);
        expect(viewDecodes()).toBeGreaterThan(0);
        // And so does a store whose views carry no codes.
        decode.mockClear();
        read.mockClear();
        run(methods[0][1], dequantizingViews(quantizedStore({ bits: 4 })), inputs, n);
        expect(viewDecodes()).toBeGreaterThan(0);
      } finally {
        decode.mockRestore();
        read.mockRestore();
      }
    }));
});
