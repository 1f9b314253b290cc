// KernelPCA's asynchronous methods with the host engine (they are fit / transform) and with the CPU
// backend as engine (the device code path, f32 tiles, run synchronously here) against float64 fits.
import { matrix } from '@kvkit/tensor-core';
import { assertClose, relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KernelPCA, rbf } from '../src/index.js';

const points = (rows: number, cols: number) => withSeed((rng) => matrix(rows, cols, Array.from({ length: rows * cols }, () => rng.normal())));

describe('KernelPCA fitAsync / transformAsync', () => {
  const kernel = rbf({ gamma: 0.3 });

  it('with the host engine: exactly fit / transform for every solver', async () => {
    const x = points(60, 3);
    const test = points(9, 3);
    for (const solver of ['exact', 'lanczos', 'randomized', 'dual'] as const) {
      const sync = new KernelPCA({ kernel, nComponents: 3, solver, seed: 2 }).fit(x);
      const async = await new KernelPCA({ kernel, nComponents: 3, solver, seed: 2 }).fitAsync(x);
      assertClose(async.eigenvalues as Float64Array, sync.eigenvalues as Float64Array, 0, `${solver} eigenvalues`);
      assertClose((await async.transformAsync(test)).data, sync.transform(test).data, 0, `${solver} projections`);
    }
  });

  it("with the CPU backend as engine: 'randomized' and 'lanczos' fits and projections = the float64 exact fit within f32", async () => {
    const x = points(50, 3);
    const test = points(8, 3);
    const exact = new KernelPCA({ kernel, nComponents: 3, solver: 'exact' }).fit(x);
    for (const solver of ['randomized', 'lanczos'] as const) {
      // Five power iterations: the randomized eigenvalues match the exact ones to ~1e-10 at this size.
      const model = await new KernelPCA({ kernel, nComponents: 3, solver, powerIterations: 5, tileSize: 16, engine: 'cpu' }).fitAsync(x);
      expect(relativeError(model.eigenvalues as Float64Array, exact.eigenvalues as Float64Array), solver).toBeLessThan(1e-5);
      expect(relativeError((await model.transformAsync(test)).data, exact.transform(test).data), solver).toBeLessThan(1e-4);
    }
  });
});
