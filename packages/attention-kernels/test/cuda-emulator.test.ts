// The CUDA kernels of this package on @kvkit/cuda-runtime's CPU emulator (the same .cu source,
// compiled with the host C++ compiler, one fiber per CUDA thread) against the CPU kernels on fresh
// random inputs. tooling/gpu/attention-check.sh runs the same cases on a real GPU.
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { createRng } from '@kvkit/tensor-core';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { CUDA_ATTENTION_MODULES } from '../src/cuda/modules.js';
import { gpuParityCases } from './gpu/parity-cases.js';

const seed = freshSeed();
// The emulator runs one fiber per CUDA thread: the 700-token prefill takes ~20 s on an idle core and
// over a minute on a loaded machine, past vitest's default 60 s.
const CASE_TIMEOUT_MS = 240_000;
const rng = createRng(seed);
let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of CUDA_ATTENTION_MODULES) cuda.module(module); // compile (or read the disk cache) up front
}, 600_000);

describe(`CUDA attention kernels on the emulator match the CPU kernels (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const c of gpuParityCases()) {
    it(c.name, async () => {
      const error = await c.run(cuda, rng);
      if (!(error <= c.tolerance)) throw new Error(`${c.name}: relative error ${error} > ${c.tolerance} [seed ${seed}]`);
      expect(error).toBeLessThanOrEqual(c.tolerance);
    }, CASE_TIMEOUT_MS);
  }
});
