// The runtime on the CUDA backend, run on @kvkit/cuda-runtime's CPU emulator (the same .cu kernels
// compiled with the host C++ compiler, one fiber per CUDA thread): every architecture variant against
// the independent float64 PyTorch reference, prefill and cached decode on the default (paged) cache,
// so the CUDA launchers, the paged cache's CUDA kernels and the runtime's use of them are checked on
// machines without a GPU. (The emulator is slow: the shipped model stays with the WebGPU suite.)
import { join } from 'node:path';
import { PagedCacheLayer } from '@kvkit/attention-kernels';
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { assertClose } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { readReference, rows, TORCH_REFERENCE, torchFixtures } from './helpers/fixtures.js';

let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
});

describe('the runtime on CUDA (the emulator)', () => {
  for (const name of torchFixtures()) {
    for (const dtype of ['f32', 'f16'] as const) {
      const tolerance = dtype === 'f32' ? 1e-5 : 1e-2;
      it(`${name}: ${dtype} prefill and decode on the default (paged) cache match the PyTorch reference within ${tolerance}`, async () => {
        const dir = join(TORCH_REFERENCE, name);
        const ref = readReference(dir);
        const model = await loadModel(dir, { backend: cuda, dtype });
        const cache = model.createCache();
        try {
          expect(cache.layers.every((layer) => layer instanceof PagedCacheLayer)).toBe(true);
          const ids = Int32Array.from(ref.ids);
          const p = ref.prompt_tokens;
          const prefill = model.forward(ids.subarray(0, p), cache, { logits: 'all' });
          expect(prefill.backend.name).toBe('cuda');
          assertClose(await prefill.readFloat32(), rows(ref.logits, 0, p), tolerance, `${name} prefill`);
          prefill.dispose();
          for (let t = p; t < ids.length; t++) {
            const step = model.forward(ids.subarray(t, t + 1), cache, { logits: 'last' });
            assertClose(await step.readFloat32(), rows(ref.logits, t, t + 1), tolerance, `${name} decode position ${t}`);
            step.dispose();
          }
        } finally {
          cache.dispose();
          model.dispose();
        }
        // The first case compiles tensor-core's and attention-kernels' modules for the emulator (g++).
      }, 600_000);
    }
  }
});
