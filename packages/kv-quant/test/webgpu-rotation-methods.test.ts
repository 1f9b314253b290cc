// RotateKV and Coupled Quantization layers with their tensors on WebGPU (Dawn; SwiftShader without a
// GPU): the rotation and vector kernels they dispatch are the WGSL ones, so the decoded cache equals
// the CPU layer's bit for bit (attention over a decoded cache is webgpu-methods.test.ts's subject).
import { createRng, type LayerSpec, randomNormal } from '@kvkit/tensor-core';
import { freshSeed, openWebGpuForTests } from '@kvkit/tensor-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { coupledQuant, KVCalibration, type QuantizedCacheLayer, rotateKV } from '../src/index.js';
import { appendToBoth, layerSpec, positions } from './helpers.js';

const gpu = await openWebGpuForTests('kv-quant rotation methods');
const seed = freshSeed();
const rng = createRng(seed);
const [H, D] = [2, 16];

async function runBoth(method: (spec: LayerSpec) => unknown) {
  const layers = [method(layerSpec({ headDim: D, kvHeads: H })), method(layerSpec({ headDim: D, kvHeads: H, backend: gpu! }))] as QuantizedCacheLayer[];
  await appendToBoth([layers[0], layers[1]], gpu!, rng, { H, D }, [24, 1, 1]);
  return layers;
}

describe.skipIf(!gpu)(`RotateKV and Coupled Quantization layers on WebGPU (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  afterAll(() => gpu?.dispose());

  const calibration = () =>
    KVCalibration.fromSamples({
      kvHeads: H,
      headDim: D,
      rope: layerSpec({ headDim: D, kvHeads: H }).rope,
      layers: [{ keys: randomNormal([H, 64, D], rng).readFloat32Sync(), values: randomNormal([H, 64, D], rng).readFloat32Sync(), positions: positions(0, 64), keyInput: 'post-rope' }],
    });

  for (const [name, method] of [
    ['rotateKV 4-bit', () => rotateKV({ bits: 4, groupSize: 8, dtype: 'f32' })],
    ['coupledQuant c=4 1-bit', () => coupledQuant({ calibration: calibration(), channels: 4, bits: 1, dtype: 'f32', iterations: 10 })],
  ] as const) {
    it(`${name}: the WebGPU layer keeps its cache there and decodes it to the CPU layer's, bit for bit`, async () => {
      const layers = await runBoth(method());
      for (const part of ['keys', 'values'] as const) {
        const decoded = layers.map((l) => l[part].decode());
        expect(decoded[1].backend, part).toBe(gpu);
        const [a, b] = await Promise.all(decoded.map((t) => t.read()));
        expect(Array.from(b), `${part} [seed ${seed}]`).toEqual(Array.from(a));
      }
    });
  }
});
