// The rotation and vector-quantization WGSL kernels (src/webgpu/hadamard.ts, vector.ts) on a real
// WebGPU device — Dawn in Node, on SwiftShader where there is no GPU (KVKIT_REQUIRE_WEBGPU=1 makes a
// missing device fail rather than skip) — bit for bit against the CPU kernels (gpu-rotation-cases.ts),
// plus small cases checked against hand-computed values.
import { createRng, tensor, toBackend, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { freshSeed, openWebGpuForTests } from '@kvkit/tensor-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { hadamard, quantizeVector } from '../src/index.js';
import { gpuRotationCases } from './gpu-rotation-cases.js';
import { handCheckedRotationCases } from './rotation-hand-cases.js';

const gpu = await openWebGpuForTests('kv-quant rotation');
const seed = freshSeed();
const rng = createRng(seed);

describe.skipIf(!gpu)(`kv-quant rotation/vector WGSL kernels = CPU kernels, bit for bit (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  afterAll(() => gpu?.dispose());

  for (const c of gpuRotationCases()) {
    it(c.name, async () => {
      const mismatch = await c.run(gpu!, rng);
      expect(mismatch, `${c.name} [seed ${seed}]`).toBeUndefined();
    });
  }

  for (const c of handCheckedRotationCases()) it(c.name, () => c.run(gpu!));

  it('rotates and quantizes tensors that live on the WebGPU backend there; integer input is a typed error', async () => {
    const x = await toBackend(tensor([1, 2, 3, 4], [1, 4]), gpu!);
    expect(hadamard(x, 2).backend).toBe(gpu);
    const books = await toBackend(tensor([0, 0, 1, 1], [1, 2, 2, 1]), gpu!);
    expect(quantizeVector(await toBackend(tensor([0.2, 0.9], [1, 1, 2]), gpu!), books, { channels: 1, bits: 1 }).backend).toBe(gpu);
    const ints = await toBackend(tensor([1, 2], [1, 2], { dtype: 'i32' }), gpu!);
    expect(() => hadamard(ints, 2)).toThrow(UnsupportedDTypeError);
  });
});
