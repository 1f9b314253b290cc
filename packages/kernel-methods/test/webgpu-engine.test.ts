// KernelMatrix with engine = a WebGPU backend — Dawn in Node, on SwiftShader where there is no GPU
// (CI sets KVKIT_REQUIRE_WEBGPU=1, so a missing device fails rather than skips) — against the float64
// host engine on fresh random inputs (device-engine-cases.ts), then KernelRidge, KernelPCA and Nystroem
// fitted end to end with the engine (device-estimator-cases.ts). tooling/gpu/kernel-methods-check.sh runs
// the same cases on an NVIDIA GPU.
import { BackendUnavailable, createRng, InvalidConfigError } from '@kvkit/tensor-core';
import { freshSeed, openWebGpuForTests, relativeError } from '@kvkit/tensor-core/testing';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { KernelMatrix, KernelPCA, KernelRidge, laplace, Nystroem, rbf } from '../src/index.js';
import { deviceProfileOn } from '../src/operator/device-modules.js';
import { webGpuNormalRows } from '../src/operator/device-nystroem-normal.js';
import { deviceEngineCases, uniformMatrix } from './device-engine-cases.js';
import { deviceEstimatorCases } from './device-estimator-cases.js';

const gpu = await openWebGpuForTests('kernel-methods');
const seed = freshSeed();
const rng = createRng(seed);

// SwiftShader compiles each new pipeline on the CPU: under CI's parallel suites a case can take minutes.
describe.skipIf(!gpu)(`KernelMatrix on WebGPU = the float64 host engine within f32 (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, { timeout: 240_000 }, () => {
  afterAll(() => gpu?.dispose());

  for (const c of [...deviceEngineCases(), ...deviceEstimatorCases()]) {
    it(c.name, async () => {
      const error = await c.run(gpu!, rng);
      if (!(error <= c.tolerance)) throw new Error(`${c.name}: relative error ${error} > ${c.tolerance} [seed ${seed}]`);
      expect(error).toBeLessThanOrEqual(c.tolerance);
    });
  }

  it('the normal equations on WebGPU take f32 kernel values: within f32 rounding of the float64 ones', async () => {
    const kernel = rbf({ gamma: 0.7 });
    const x = uniformMatrix(50, 3, rng);
    const centers = uniformMatrix(37, 3, rng);
    const y = uniformMatrix(50, 1, rng);
    const rows = await webGpuNormalRows(gpu!, deviceProfileOn(kernel, gpu!)!, x, centers, y);
    const k = new Float64Array(50 * 37);
    kernel.evaluate(x, centers, k, 0, 50, 0, 37);
    expect(relativeError(Float64Array.from({ length: 50 * 37 }, (_, e) => rows[Math.floor(e / 37) * 38 + (e % 37)]), k), `seed ${seed}`).toBeLessThan(1e-6);
  });

  it('a radial kernel: two dispatches per product (chunk products, their sum) whatever the tile count; other kernels tile by tile', async () => {
    const x = uniformMatrix(1100, 4, rng);
    const v = uniformMatrix(1100, 1, rng);
    const dispatches = vi.spyOn(gpu!, 'dispatch');
    try {
      const fused = new KernelMatrix(rbf({ gamma: 0.5 }), x, undefined, { tileSize: 64, engine: gpu! });
      await fused.multiplyAsync(v);
      expect(dispatches).toHaveBeenCalledTimes(2);
      fused.dispose();
      dispatches.mockClear();
      // The tiled path needs no 1100 points to show its launch per tile (and is slow on the CI's emulators).
      const small = uniformMatrix(100, 4, rng);
      const tiled = new KernelMatrix(laplace({ gamma: 0.5 }), small, undefined, { tileSize: 50, engine: gpu! });
      await tiled.multiplyAsync(uniformMatrix(100, 1, rng));
      expect(dispatches.mock.calls.length).toBeGreaterThan(4);
      tiled.dispose();
    } finally {
      dispatches.mockRestore();
    }
  });

  it('the synchronous products on an asynchronous backend are a typed error naming the Async methods', () => {
    const operator = new KernelMatrix(rbf(), uniformMatrix(6, 2, rng), undefined, { engine: gpu! });
    expect(() => operator.rowSums()).toThrow(BackendUnavailable);
    expect(() => operator.multiply(uniformMatrix(6, 1, rng))).toThrow(/multiplyAsync/);
    operator.dispose();
  });

  it('estimators on an asynchronous engine: the synchronous fit/predict name fitAsync/predictAsync; fitAsync rejects other KPCA solvers', async () => {
    const x = uniformMatrix(20, 2, rng);
    const y = uniformMatrix(20, 1, rng).data;
    for (const solver of ['cg', 'nystroem-pcg'] as const) {
      expect(() => new KernelRidge({ kernel: rbf(), solver, nCenters: 5, engine: gpu! }).fit(x, y)).toThrow(/fitAsync/);
      expect(() => new KernelRidge({ kernel: rbf(), solver, nCenters: 5, engine: gpu! }).fit(x, y)).toThrow(BackendUnavailable);
    }
    const model = await new KernelRidge({ kernel: rbf(), solver: 'cg', engine: gpu! }).fitAsync(x, y);
    expect(() => model.predict(x)).toThrow(/predictAsync/);
    expect(() => new KernelPCA({ kernel: rbf(), nComponents: 2, solver: 'randomized', engine: gpu! }).fit(x)).toThrow(BackendUnavailable);
    expect(() => new KernelPCA({ kernel: rbf(), nComponents: 2, solver: 'randomized', engine: gpu! }).fit(x)).toThrow(/fitAsync \(solver 'randomized'\)/);
    for (const solver of ['dual', 'exact'] as const) {
      const kpca = new KernelPCA({ kernel: rbf(), nComponents: 2, solver, engine: gpu! });
      await expect(kpca.fitAsync(x)).rejects.toThrow(InvalidConfigError);
      expect(kpca.eigenvalues).toBeUndefined();
    }
    const badSketch = new KernelPCA({ kernel: rbf(), nComponents: 2, solver: 'randomized', oversample: -1, engine: gpu! });
    await expect(badSketch.fitAsync(x)).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/oversample/) });
    expect(badSketch.eigenvalues).toBeUndefined();
    // Fitted on the host (exact), projected with the engine: transform names transformAsync.
    const projected = new KernelPCA({ kernel: rbf(), nComponents: 2, solver: 'exact', engine: gpu! }).fit(x);
    expect(() => projected.transform(x)).toThrow(BackendUnavailable);
    expect(() => projected.transform(x)).toThrow(/transformAsync/);
  });

  it('Nystroem on an asynchronous engine: transform and the ridge-leverage fit name their Async methods; fitAsync checks its inputs first', async () => {
    const x = uniformMatrix(20, 2, rng);
    const leverage = new Nystroem({ kernel: rbf(), nComponents: 5, sampling: 'ridge-leverage', engine: gpu! });
    expect(() => leverage.fit(x)).toThrow(BackendUnavailable);
    expect(() => leverage.fit(x)).toThrow(/fitAsync/);
    expect(leverage.componentIndices).toBeUndefined();
    const model = await leverage.fitAsync(x);
    expect(() => model.transform(x)).toThrow(BackendUnavailable);
    expect(() => model.transform(x)).toThrow(/transformAsync/);
    await expect(model.transformAsync(uniformMatrix(3, 4, rng))).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    const unfitted = new Nystroem({ kernel: rbf(), nComponents: 30, engine: gpu! });
    await expect(unfitted.fitAsync(x)).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    expect(unfitted.componentIndices).toBeUndefined();
  });
});
