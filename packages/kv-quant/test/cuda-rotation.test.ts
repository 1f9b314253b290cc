// The rotation and vector-quantization CUDA kernels (src/cuda/hadamard.cu, vector.cu) on
// @kvkit/cuda-runtime's CPU emulator — the same source NVRTC compiles on a device — bit for bit
// against the CPU kernels (gpu-rotation-cases.ts), plus small cases checked against hand-computed values.
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { createRng } from '@kvkit/tensor-core';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { hadamardCudaModule } from '../src/cuda/hadamard.js';
import { vectorCudaModule } from '../src/cuda/vector.js';
import { gpuRotationCases } from './gpu-rotation-cases.js';
import { handCheckedRotationCases } from './rotation-hand-cases.js';

const seed = freshSeed();
const rng = createRng(seed);
let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of [hadamardCudaModule, vectorCudaModule]) cuda.module(module); // compile up front (g++ for the emulator, cached on disk)
}, 600_000);

describe(`kv-quant rotation/vector CUDA kernels = CPU kernels, bit for bit, on the emulator (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const c of gpuRotationCases()) {
    it(c.name, async () => {
      const mismatch = await c.run(cuda, rng);
      expect(mismatch, `${c.name} [seed ${seed}]`).toBeUndefined();
    });
  }

  for (const c of handCheckedRotationCases()) it(c.name, () => c.run(cuda));
});
