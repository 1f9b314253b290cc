// The parity suite on a real CUDA device, when this machine has one (the GPU machine runs the same
// cases through tooling/gpu/cuda-check.sh, which needs no npm). Skips without a device; with
// KVKIT_REQUIRE_CUDA=1, load.test.ts fails instead.
import { createRng } from '@kvkit/tensor-core';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCudaRuntime } from '../src/index.js';
import { parityCases, runParityCase } from './parity-cases.js';
import { deviceStatus } from './support.js';

const status = deviceStatus();
const seed = freshSeed();

if (!status.available) {
  it.skip(`parity with the CPU backend on a CUDA device: no device here (${status.reason.split(' — ')[0]})`, () => {});
} else {
  describe(`parity with the CPU backend on the CUDA device (seed ${seed})`, () => {
    const rng = createRng(seed);
    let cuda: CudaBackend;
    beforeAll(async () => {
      cuda = await createCudaBackend({ runtime: () => loadCudaRuntime() });
    }, 600_000);

    for (const c of parityCases()) {
      it(c.name, async () => {
        const result = await runParityCase(c, cuda, rng);
        if (!result.pass) throw new Error(`${c.name}: relative error ${result.error} > ${result.tolerance} [seed ${seed}]${result.detail ? `\n${result.detail}` : ''}`);
        expect(result.error).toBeLessThanOrEqual(c.tolerance);
      });
    }
  });
}
