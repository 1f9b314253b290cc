// The WGSL kernels of this package on a real WebGPU device (Dawn in Node; SwiftShader on machines
// without a GPU) against the CPU kernels on fresh random inputs. tooling/gpu/attention-check.sh runs
// the same cases on an NVIDIA GPU.
import { createRng } from '@kvkit/tensor-core';
import { freshSeed, openWebGpuForTests } from '@kvkit/tensor-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuParityCases } from './gpu/parity-cases.js';
import { wordDecodeCases } from './gpu/word-decode-cases.js';

const gpu = await openWebGpuForTests('attention-kernels');
const seed = freshSeed();
const rng = createRng(seed);

describe.skipIf(!gpu)(`WebGPU attention kernels match the CPU kernels (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  afterAll(() => gpu?.dispose());

  for (const c of [...gpuParityCases(), ...wordDecodeCases()]) {
    it(c.name, async () => {
      const error = await c.run(gpu!, rng);
      if (!(error <= c.tolerance)) throw new Error(`${c.name}: relative error ${error} > ${c.tolerance} [seed ${seed}]`);
      expect(error).toBeLessThanOrEqual(c.tolerance);
    });
  }
});
