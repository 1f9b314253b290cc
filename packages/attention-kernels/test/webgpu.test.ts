// The WGSL kernels of this package on a real WebGPU device (Dawn in Node; SwiftShader on machines
// without a GPU) against the CPU kernels on fresh random inputs. tooling/gpu/attention-check.sh runs
// the same cases on an NVIDIA GPU.
import { createRng, getBackend, InvalidConfigError, randomNormal, toBackend } from '@kvkit/tensor-core';
import { freshSeed, openWebGpuForTests } from '@kvkit/tensor-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { kiviDecodeAttention } from '../src/index.js';
import { randomKiviView } from './helpers/random-kivi.js';
import { gpuParityCases } from './gpu/parity-cases.js';

const gpu = await openWebGpuForTests('attention-kernels');
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

  it('asking the fused KIVI kernel for per-key statistics is a typed error (CPU only)', async () => {
    const { view } = randomKiviView(rng, { bits: 2, groupSize: 4, valueGroupSize: 4, kvHeads: 1, headDim: 8, length: 9, residual: 1 });
    const q = await toBackend(randomNormal([2, 1, 8], rng, { backend: getBackend('cpu') }), gpu!);
    const moved = { ...view, ...Object.fromEntries(await Promise.all((['keyCodes', 'keyScale', 'keyMin', 'valueCodes', 'valueScale', 'valueMin', 'residualKeys', 'residualValues', 'positions'] as const).map(async (name) => [name, await toBackend(view[name], gpu!)]))) };
    expect(() => kiviDecodeAttention(q, moved, { statistics: true })).toThrow(InvalidConfigError);
  });
});
