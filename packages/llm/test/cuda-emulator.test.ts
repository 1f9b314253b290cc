// The runtime on the CUDA backend, run on @kvkit/cuda-runtime's CPU emulator (the same .cu kernels
// compiled with the host C++ compiler, one fiber per CUDA thread): every architecture variant against
// the independent float64 PyTorch reference, prefill and cached decode on the default (paged) cache,
// so the CUDA launchers, the paged cache's CUDA kernels and the runtime's use of them are checked on
// machines without a GPU. (The emulator is slow: the shipped model stays with the WebGPU suite.)
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { beforeAll, describe, it } from 'vitest';
import { torchFixtures } from './helpers/fixtures.js';
import { expectTorchReferenceOn } from './helpers/reference-parity.js';

let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
});

describe('the runtime on CUDA (the emulator)', () => {
  for (const name of torchFixtures()) {
    for (const dtype of ['f32', 'f16'] as const) {
      const tolerance = dtype === 'f32' ? 1e-5 : 1e-2;
      // The first case compiles tensor-core's and attention-kernels' modules for the emulator (g++).
      it(`${name}: ${dtype} prefill and decode on the default (paged) cache match the PyTorch reference within ${tolerance}`, () =>
        expectTorchReferenceOn(cuda, name, dtype, tolerance), 600_000);
    }
  }
});
