// kv-quant's cache methods with their tensors on WebGPU (Dawn; SwiftShader without a GPU): the
// quantize/dequantize kernels they dispatch are the WGSL ones, so the stored codes and parameters
// equal the CPU layer's bit for bit, and attention over them matches the CPU layer's.
import { createRng, getBackend, type LayerSpec, randomNormal, slice, type Tensor, toBackend } from '@kvkit/tensor-core';
import { freshSeed, openWebGpuForTests, relativeError } from '@kvkit/tensor-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type KiviLayer, kivi, uniformQuant } from '../src/index.js';
import { appendToBoth, layerSpec, positions } from './helpers.js';

const gpu = await openWebGpuForTests('kv-quant methods');
const seed = freshSeed();
const rng = createRng(seed);
const cpu = getBackend('cpu');
const [H, D] = [2, 16];

/** The same prefill and decode steps on a CPU layer and a WebGPU layer; returns both attention outputs and layers. */
async function runBoth(method: (spec: LayerSpec) => ReturnType<ReturnType<typeof kivi>>) {
  const layers = [method(layerSpec({ headDim: D, kvHeads: H })), method(layerSpec({ headDim: D, kvHeads: H, backend: gpu! }))];
  const start = await appendToBoth([layers[0], layers[1]], gpu!, rng, { H, D }, [40, 1, 1, 1]);
  const q = randomNormal([4, 2, D], rng, { backend: cpu });
  const qPos = { positions: positions(start - 2, 2) };
  const ref = layers[0].attend(q, qPos).output;
  const got = layers[1].attend(await toBackend(q, gpu!), qPos).output;
  return { layers, ref: await ref.read(), got: await got.read() };
}

/** The first `rows` entries of axis 1 (the view's buffers have spare capacity there), as stored. */
const validRows = async (t: Tensor, rows: number) => Array.from(await slice(t, t.shape.map(() => 0), t.shape.map((d, i) => (i === 1 ? rows : d))).read());

describe.skipIf(!gpu)(`kv-quant methods on WebGPU (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  afterAll(() => gpu?.dispose());

  for (const [name, method] of [
    ['uniform 4-bit per token', uniformQuant({ bits: 4, groupSize: 8 })],
    ['uniform 2-bit per channel (residual 8)', uniformQuant({ bits: 2, groupSize: 8, axis: 'channel', residual: 8 })],
    ['uniform 8-bit symmetric, f32 parameters', uniformQuant({ bits: 8, groupSize: 16, symmetric: true, dtype: 'f32' })],
  ] as const) {
    it(`${name}: attention over the WebGPU layer = the CPU layer's (relative error < 1e-5)`, async () => {
      const { ref, got } = await runBoth(method);
      expect(relativeError(got as Float32Array, ref as Float32Array), `seed ${seed}`).toBeLessThan(1e-5);
    });
  }

  it('kivi 2-bit: the WebGPU layer stores the same codes, scales and minima as the CPU layer, bit for bit', async () => {
    const { layers, ref, got } = await runBoth(kivi({ bits: 2, groupSize: 8, residual: 16, initialCapacity: 4 }));
    const [a, b] = layers.map((l) => (l as KiviLayer).view());
    expect([b.keyGroups, b.valueTokens, b.length]).toEqual([a.keyGroups, a.valueTokens, a.length]);
    for (const part of ['keyCodes', 'keyScale', 'keyMin', 'valueCodes', 'valueScale', 'valueMin'] as const) {
      expect(b[part].backend, part).toBe(gpu);
      const rows = part.startsWith('key') ? a.keyGroups : a.valueTokens;
      expect(await validRows(b[part], rows), part).toEqual(await validRows(a[part], rows));
    }
    expect(relativeError(got as Float32Array, ref as Float32Array), `seed ${seed}`).toBeLessThan(1e-5);
  });
});
