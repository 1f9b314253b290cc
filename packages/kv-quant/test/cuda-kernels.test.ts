// kv-quant's CUDA kernels (src/cuda/*.cu) on @kvkit/cuda-runtime's CPU emulator — the same .cu
// source NVRTC compiles on a device — bit for bit against the CPU kernels on fresh random inputs:
// the parity cases (gpu-parity-cases.ts) and the edge cases the WebGPU suite runs (gpu-edge-cases.ts).
// tooling/gpu/kv-quant-check.sh runs the same cases on a real GPU.
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { createRng, tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { dequantizeUniform, quantizeUniform } from '../src/index.js';
import { fp8CudaModule } from '../src/cuda/fp8.js';
import { uniformCudaModule } from '../src/cuda/uniform.js';
import { gpuEdgeCases } from './gpu-edge-cases.js';
import { gpuParityCases } from './gpu-parity-cases.js';

const seed = freshSeed();
const rng = createRng(seed);
let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of [uniformCudaModule, fp8CudaModule]) cuda.module(module); // compile up front (g++ for the emulator, cached on disk)
}, 600_000);

describe(`kv-quant CUDA kernels = CPU kernels, bit for bit, on the emulator (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const c of [...gpuParityCases(), ...gpuEdgeCases()]) {
    it(c.name, async () => {
      const mismatch = await c.run(cuda, rng);
      expect(mismatch, `${c.name} [seed ${seed}]`).toBeUndefined();
    });
  }

  it('a symmetric group holding ±∞ gets scale ∞, code 0 for ±∞ (∞/∞ is NaN, stored as 0), the offset for finite values (x/∞ = ±0)', async () => {
    const attrs = { bits: 4, groupSize: 4, symmetric: true, paramDType: 'f32' } as const;
    const q = quantizeUniform(tensor([Infinity, 1, -2, 0, 0.5, -Infinity, 3, -0], [2, 4], { backend: cuda }), attrs);
    expect(Array.from(await q.scale.read())).toEqual([Infinity, Infinity]);
    // 4-bit codes, 8 to a word, the first value in the lowest bits: [0, 8, 8, 8] and [8, 0, 8, 8].
    expect(Array.from(await q.codes.read())).toEqual([0x8880, 0x8808]);
  });

  it('quantizes tensors that live on the CUDA backend there (the result stays on it)', () => {
    const q = quantizeUniform(tensor([0.5, -1, 2, 3], [1, 4], { backend: cuda }), { bits: 4, groupSize: 4, symmetric: false, paramDType: 'f16' });
    expect(q.codes.backend).toBe(cuda);
    expect(q.scale.backend).toBe(cuda);
  });

  it('dequantizing with parameters of another dtype than f16/f32 is a typed error (the kernel reads f16 or f32 bits)', () => {
    const attrs = { bits: 4, groupSize: 4, symmetric: false, paramDType: 'f16' } as const;
    const q = quantizeUniform(tensor([0.5, -1, 2, 3], [1, 4], { backend: cuda }), attrs);
    const bf16 = tensor([0.25], [1, 1], { dtype: 'bf16', backend: cuda });
    expect(() => dequantizeUniform({ codes: q.codes, scale: bf16, zero: bf16 }, 4, attrs)).toThrow(UnsupportedDTypeError);
    expect(() => dequantizeUniform({ codes: q.codes, scale: q.scale, zero: tensor([0], [1, 1], { backend: cuda }) }, 4, attrs)).toThrow(UnsupportedDTypeError);
  });
});
