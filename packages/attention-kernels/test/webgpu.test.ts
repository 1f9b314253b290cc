// The WGSL kernels of this package on a real WebGPU device (Dawn in Node; SwiftShader on machines
// without a GPU) against the CPU kernels on fresh random inputs. tooling/gpu/attention-check.sh runs
// the same cases on an NVIDIA GPU.
import { createRng, getBackend, InvalidConfigError, randomNormal, toBackend } from '@kvkit/tensor-core';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAttention } from '../src/index.js';
import { gpuParityCases } from './gpu/parity-cases.js';
import { openWebGpuForTests } from './gpu/webgpu-device.js';

const gpu = await openWebGpuForTests();
const seed = freshSeed();
const rng = createRng(seed);

describe.skipIf(!gpu)(`WebGPU attention kernels match the CPU kernels (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  afterAll(() => gpu?.dispose());

  for (const c of gpuParityCases()) {
    it(c.name, async () => {
      const error = await c.run(gpu!, rng);
      if (!(error <= c.tolerance)) throw new Error(`${c.name}: relative error ${error} > ${c.tolerance} [seed ${seed}]`);
      expect(error).toBeLessThanOrEqual(c.tolerance);
    });
  }

  it('asking a WebGPU kernel for per-key statistics is a typed error', async () => {
    const cpu = getBackend('cpu');
    const [q, k, v] = await Promise.all([[2, 1, 8], [1, 5, 8], [1, 5, 8]].map((shape) => toBackend(randomNormal(shape, rng, { backend: cpu }), gpu!)));
    expect(() => decodeAttention(q, k, v, { statistics: true })).toThrow(InvalidConfigError);
  });
});
