// The runtime on the CUDA backend, run on @kvkit/cuda-runtime's CPU emulator (the same .cu kernels
// compiled with the host C++ compiler, one fiber per CUDA thread): every architecture variant against
// the independent float64 PyTorch reference, prefill and cached decode on the default (paged) cache,
// so the CUDA launchers, the paged cache's CUDA kernels and the runtime's use of them are checked on
// machines without a GPU. (The emulator is slow: the shipped model stays with the WebGPU suite.)
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { readReference, TORCH_REFERENCE, torchFixtures } from './helpers/fixtures.js';
import { expectTorchReferenceOn } from './helpers/reference-parity.js';
import { expectReleasedWidthLatentOn } from './helpers/latent-model.js';

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

  // The reference fixtures' latent head is 24 channels wide; the released models' is 576 (kv_lora_rank 512 + 64 rotated).
  it('DeepSeek’s latent attention at the released width (one cached head of 576 channels): the same logits as the CPU through the paged cache', () => expectReleasedWidthLatentOn(cuda, 1e-4), 600_000);

  // LFM2's convolution state lives on the device beside the paged K/V; each decode step replaces it.
  it('a hybrid model’s cache, K/V and convolution state, leaves nothing resident once disposed; so does the model', async () => {
    const dir = join(TORCH_REFERENCE, 'lfm2-conv-bias');
    const ids = Int32Array.from(readReference(dir).ids);
    const start = cuda.bytesInUse();
    const model = await loadModel(dir, { backend: cuda, dtype: 'f32' });
    const loaded = cuda.bytesInUse();
    for (let round = 0; round < 2; round++) {
      const cache = model.createCache();
      model.forward(ids.subarray(0, 7), cache).dispose();
      for (let t = 7; t < ids.length; t++) model.forward(ids.subarray(t, t + 1), cache, { logits: 'last' }).dispose();
      expect(cache.memory().parts.recurrent).toBe(2 * 3 * 32 * 4);
      cache.dispose();
      expect(cuda.bytesInUse(), `after cache ${round}`).toBe(loaded);
    }
    model.dispose();
    expect(cuda.bytesInUse()).toBe(start);
  }, 600_000);
});
