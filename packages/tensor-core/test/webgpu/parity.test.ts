import { afterAll, describe, expect, it } from 'vitest';
import { getBackend, listKernels } from '../../src/index.js';
import { withSeed } from '../../src/testing/index.js';
import { COVERED_KERNELS, FULL, PARITY_CASES } from './parity-cases.js';
import { openWebGpuForTests } from '../../src/testing/index.js';

const gpu = await openWebGpuForTests('tensor-core');

describe.skipIf(!gpu)('webgpu parity with the CPU backend (Node + Dawn)', () => {
  afterAll(() => {
    console.info('[webgpu] parity suite pipelines:', gpu?.pipelineStats(), gpu?.info);
    gpu?.dispose();
  });

  it('registers every kernel of tensor-core, and the parity cases cover each of them', () => {
    getBackend('cpu');
    const registered = listKernels('webgpu').sort();
    expect(registered).toEqual([...listKernels('cpu')].sort());
    expect([...COVERED_KERNELS].sort()).toEqual(registered);
  });

  for (const testCase of PARITY_CASES) {
    it(testCase.name, () => withSeed((rng) => testCase.run(gpu!, rng, FULL)));
  }
});
