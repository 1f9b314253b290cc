// KernelMatrix with engine = the CUDA backend, on @kvkit/cuda-runtime's CPU emulator (tensor-core's
// .cu kernels compiled with the host C++ compiler), against the float64 host engine on fresh random
// inputs (device-engine-cases.ts), then KernelRidge, KernelPCA and Nystroem fitted end to end with the
// engine (device-estimator-cases.ts).
// tooling/gpu/kernel-methods-check.sh runs the same cases on an NVIDIA GPU.
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { createRng } from '@kvkit/tensor-core';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed, relativeError } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { KernelMatrix, KernelRidge, laplace, rbf } from '../src/index.js';
import { deviceEngineCases, uniformMatrix } from './device-engine-cases.js';
import { deviceEstimatorCases } from './device-estimator-cases.js';

const seed = freshSeed();
const rng = createRng(seed);
// The first run compiles tensor-core's CUDA sources for the emulator (cached on disk afterwards).
const CASE_TIMEOUT_MS = 120_000;
let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
}, 600_000);

describe(`KernelMatrix on CUDA (emulator) = the float64 host engine within f32 (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const c of [...deviceEngineCases(), ...deviceEstimatorCases()]) {
    it(
      c.name,
      async () => {
        const error = await c.run(cuda, rng);
        if (!(error <= c.tolerance)) throw new Error(`${c.name}: relative error ${error} > ${c.tolerance} [seed ${seed}]`);
        expect(error).toBeLessThanOrEqual(c.tolerance);
      },
      CASE_TIMEOUT_MS,
    );
  }
});

describe("KernelRidge 'nystroem' on CUDA forms its normal equations there", () => {
  it('two launches per chunk of rows ([K_nm | Y] in float64, then its Gram matrix), one read-back; the coefficients are the host fit\'s to rounding', async () => {
    const x = uniformMatrix(300, 5, rng);
    const y = uniformMatrix(300, 1, rng);
    const options = { kernel: rbf({ gamma: 0.3 }), alpha: 0.1, solver: 'nystroem', nCenters: 40, seed: 2 } as const;
    const launches = vi.spyOn(cuda, 'launch');
    try {
      const device = await new KernelRidge({ ...options, engine: cuda }).fitAsync(x, y);
      expect(launches.mock.calls.map((call) => call[1])).toEqual(['km_normal_rows', 'km_normal_gram']);
      const reference = new KernelRidge(options).fit(x, y);
      expect(relativeError(device.dualCoef.data, reference.dualCoef.data), `seed ${seed}`).toBeLessThan(1e-9);
    } finally {
      launches.mockRestore();
    }
  }, CASE_TIMEOUT_MS);
});

describe('KernelMatrix products on CUDA launch a fixed number of kernels', () => {
  it('a radial kernel: two launches per product (chunk products, their sum) whatever the tile count; other kernels tile by tile', async () => {
    const x = uniformMatrix(1100, 4, rng);
    const v = uniformMatrix(1100, 1, rng);
    const launches = vi.spyOn(cuda, 'launch');
    try {
      const fused = new KernelMatrix(rbf({ gamma: 0.5 }), x, undefined, { tileSize: 64, engine: cuda });
      await fused.multiplyAsync(v);
      expect(launches).toHaveBeenCalledTimes(2);
      fused.dispose();
      launches.mockClear();
      // The tiled path needs no 1100 points to show its launch per tile (and is slow on the CI's emulators).
      const small = uniformMatrix(100, 4, rng);
      const tiled = new KernelMatrix(laplace({ gamma: 0.5 }), small, undefined, { tileSize: 50, engine: cuda });
      await tiled.multiplyAsync(uniformMatrix(100, 1, rng));
      expect(launches.mock.calls.length).toBeGreaterThan(4);
      tiled.dispose();
    } finally {
      launches.mockRestore();
    }
  }, CASE_TIMEOUT_MS);
});
