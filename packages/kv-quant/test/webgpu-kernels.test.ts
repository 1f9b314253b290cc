// kv-quant's WGSL kernels (src/webgpu/*) on a real WebGPU device — Dawn in Node, on SwiftShader
// where there is no GPU (CI sets KVKIT_REQUIRE_WEBGPU=1, so a missing device fails rather than
// skips) — bit for bit against the CPU kernels on fresh random inputs: the cases the CUDA
// emulator suite runs (gpu-parity-cases.ts) and the edge cases of gpu-edge-cases.ts.
// tooling/gpu/kv-quant-check.sh runs the same cases on an NVIDIA GPU.
import { createRng, tensor, toBackend, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { freshSeed, openWebGpuForTests } from '@kvkit/tensor-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { dequantizeUniform, quantizeUniform } from '../src/index.js';
import { gpuEdgeCases } from './gpu-edge-cases.js';
import { gpuParityCases } from './gpu-parity-cases.js';

const gpu = await openWebGpuForTests('kv-quant');
const seed = freshSeed();
const rng = createRng(seed);

describe.skipIf(!gpu)(`kv-quant WGSL kernels = CPU kernels, bit for bit (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  afterAll(() => gpu?.dispose());

  for (const c of [...gpuParityCases(), ...gpuEdgeCases()]) {
    it(c.name, async () => {
      const mismatch = await c.run(gpu!, rng);
      expect(mismatch, `${c.name} [seed ${seed}]`).toBeUndefined();
    });
  }

  it('quantizes tensors that live on the WebGPU backend there (the results stay on it)', async () => {
    const x = await toBackend(tensor([0.5, -1, 2, 3], [1, 4]), gpu!);
    const q = quantizeUniform(x, { bits: 4, groupSize: 4, symmetric: false, paramDType: 'f16' });
    expect([q.codes.backend, q.scale.backend, q.zero?.backend]).toEqual([gpu, gpu, gpu]);
  });

  it('dequantizing with bf16 parameters or a zero of another dtype than the scale is a typed error', async () => {
    const attrs = { bits: 4, groupSize: 4, symmetric: false, paramDType: 'f16' } as const;
    const q = quantizeUniform(await toBackend(tensor([0.5, -1, 2, 3], [1, 4]), gpu!), attrs);
    const bf16 = await toBackend(tensor([0.25], [1, 1], { dtype: 'bf16' }), gpu!);
    const f32 = await toBackend(tensor([0], [1, 1]), gpu!);
    expect(() => dequantizeUniform({ codes: q.codes, scale: bf16, zero: bf16 }, 4, attrs)).toThrow(UnsupportedDTypeError);
    expect(() => dequantizeUniform({ codes: q.codes, scale: q.scale, zero: f32 }, 4, attrs)).toThrow(UnsupportedDTypeError);
  });
});
