import { cholesky, choleskySolve, matmulMatrix, matrix } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type Kernel, KernelMatrix, kernelBlock, KernelRidge, type KernelRidgeJSON, laplace, poly, precomputed, rbf } from '../src/index.js';
import { boston, fixtures, flat, rowRange } from './datasets.js';

const { x, y } = boston();
const f = fixtures.kernelRidgeBoston;
const train = rowRange(x, 0, f.trainRows);
const test = rowRange(x, f.trainRows, x.rows);
const yTrain = y.slice(0, f.trainRows);
const yTest = y.slice(f.trainRows);

function kernelOf(spec: { kernel: string; gamma: number; degree?: number; coef0?: number }): Kernel {
  if (spec.kernel === 'rbf') return rbf({ gamma: spec.gamma });
  if (spec.kernel === 'laplacian') return laplace({ gamma: spec.gamma });
  return poly({ degree: spec.degree, gamma: spec.gamma, coef0: spec.coef0 });
}

function rmse(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < truth.length; i++) s += (pred[i] - truth[i]) ** 2;
  return Math.sqrt(s / truth.length);
}

describe('KernelRidge against scikit-learn (Boston, 400 train / 106 test)', () => {
  for (const spec of f.models) {
    it(`${spec.kernel}: Cholesky, default (auto → stored-K PCG), PCG and lazy CG predictions and dual coefficients`, () => {
      const kernel = kernelOf(spec);
      const exact = new KernelRidge({ kernel, alpha: spec.alpha, solver: 'cholesky' }).fit(train, yTrain);
      assertClose(exact.predict(test).data, flat(spec.predictions), 1e-9, 'cholesky predictions');
      assertClose(exact.dualCoef.data, flat(spec.dualCoef), 1e-8, 'dual coefficients');
      const auto = new KernelRidge({ kernel, alpha: spec.alpha });
      expect(auto.resolveSolver(train.rows)).toBe('pcg');
      auto.fit(train, yTrain);
      // CG at its default tolerance (1e-8) matches the exact solve's predictions to ~1e-8.
      assertClose(auto.predict(test).data, flat(spec.predictions), 1e-7, 'auto predictions');
      assertClose(auto.dualCoef.data, flat(spec.dualCoef), 1e-6, 'auto dual coefficients');
      for (const solver of ['pcg', 'cg'] as const) {
        const model = new KernelRidge({ kernel, alpha: spec.alpha, solver, tolerance: 1e-10, maxIterations: 5000 }).fit(train, yTrain);
        assertClose(model.predict(test).data, flat(spec.predictions), 1e-8, `${solver} predictions`);
      }
    });
  }

  it('Nyström-PCG with every point as a centre is exact KRR; with 100 centres it stays close in test error', () => {
    const spec = f.models[0];
    const kernel = kernelOf(spec);
    const full = new KernelRidge({ kernel, alpha: spec.alpha, solver: 'nystroem-pcg', nCenters: f.trainRows, tolerance: 1e-12 }).fit(train, yTrain);
    assertClose(full.predict(test).data, flat(spec.predictions), 1e-5, 'all centres');
    expect(full.iterations).toBeLessThan(200);
    const exactError = rmse(flat(spec.predictions), yTest);
    for (const sampling of ['uniform', 'ridge-leverage'] as const) {
      const small = new KernelRidge({ kernel, alpha: spec.alpha, solver: 'nystroem-pcg', nCenters: 100, sampling, seed: 5 }).fit(train, yTrain);
      expect(rmse(small.predict(test).data, yTest), sampling).toBeLessThan(exactError * 1.25);
    }
  });

  it('Nyström-PCG (FALKON) solves the Nyström normal equations in few iterations, with K_nm cached or evaluated tile by tile', () => {
    // A wide rbf (γ = 0.001 on Boston's raw features) makes K_mm numerically singular.
    const kernel = rbf({ gamma: 0.001 });
    const alpha = 1;
    const options = { kernel, alpha, solver: 'nystroem-pcg' as const, nCenters: 100, seed: 3, tolerance: 1e-10 };
    const cached = new KernelRidge(options).fit(train, yTrain);
    const tiled = new KernelRidge({ ...options, kernelCacheBytes: 0, tileSize: 48 }).fit(train, yTrain);
    // Reference: (K_mnK_nm + α(K_mm + jI))β = K_mn y solved directly in float64, j = 1e-6·k(x, x).
    const { rows: m, cols, data } = cached.toJSON().centers;
    const centers = matrix(m, cols, data);
    const knm = kernelBlock(kernel, train, centers);
    const system = matmulMatrix(knm, knm, { transposeA: true });
    const kmm = kernelBlock(kernel, centers, centers);
    for (let i = 0; i < system.data.length; i++) system.data[i] += alpha * kmm.data[i];
    for (let i = 0; i < m; i++) system.data[i * (m + 1)] += alpha * 1e-6;
    const beta = choleskySolve(cholesky(system), matmulMatrix(knm, { rows: train.rows, cols: 1, data: yTrain }, { transposeA: true }));
    const reference = matmulMatrix(kernelBlock(kernel, test, centers), beta).data;
    assertClose(cached.predict(test).data, reference, 1e-6, 'cached K_nm');
    assertClose(tiled.predict(test).data, reference, 1e-6, 'tiles');
    // The preconditioner makes the system well conditioned: 10 iterations here. With the jitter in
    // the preconditioner but not in the regularizer (the previous implementation) it took 63.
    expect(cached.iterations).toBeLessThan(25);
    expect(tiled.iterations).toBe(cached.iterations);
  });

  it("solver 'nystroem' solves the same Nyström system directly: the float64 formula, exact KRR with every point a centre, FALKON", () => {
    // The reference: (K_mnK_nm + α(K_mm + jI))β = K_mn y formed whole and solved by Cholesky.
    const reference = (kernel: Kernel, alpha: number, centers: ReturnType<typeof matrix>) => {
      const m = centers.rows;
      const knm = kernelBlock(kernel, train, centers);
      const kmm = kernelBlock(kernel, centers, centers);
      let scale = 0;
      for (let i = 0; i < m; i++) scale += kmm.data[i * (m + 1)] / m;
      const system = matmulMatrix(knm, knm, { transposeA: true });
      for (let i = 0; i < system.data.length; i++) system.data[i] += alpha * kmm.data[i];
      for (let i = 0; i < m; i++) system.data[i * (m + 1)] += alpha * 1e-6 * scale;
      const beta = choleskySolve(cholesky(system), matmulMatrix(knm, { rows: train.rows, cols: 1, data: yTrain }, { transposeA: true }));
      return matmulMatrix(kernelBlock(kernel, test, centers), beta).data;
    };
    // A radial kernel (Gram route, WebAssembly), a wide one with K_mm numerically singular, and a
    // non-radial one (the kernel's own loop); tiles of 90 rows (tileSize 8: 4 and a short one) or all of K_nm.
    for (const [kernel, alpha] of [[rbf({ gamma: 0.1 }), 1], [rbf({ gamma: 0.001 }), 1], [poly({ degree: 2, gamma: 0.01, coef0: 1 }), 10]] as const) {
      for (const tileSize of [8, undefined]) {
        const model = new KernelRidge({ kernel, alpha, solver: 'nystroem', nCenters: 90, seed: 3, tileSize }).fit(train, yTrain);
        expect(model.iterations).toBeUndefined();
        const { rows, cols, data } = model.toJSON().centers;
        assertClose(model.predict(test).data, reference(kernel, alpha, matrix(rows, cols, data)), 1e-8, `${kernel.name} tileSize ${tileSize}`);
      }
    }
    const spec = f.models[0];
    const kernel = kernelOf(spec);
    const all = new KernelRidge({ kernel, alpha: spec.alpha, solver: 'nystroem', nCenters: f.trainRows }).fit(train, yTrain);
    assertClose(all.predict(test).data, flat(spec.predictions), 1e-5, 'every point a centre: scikit-learn KernelRidge');
    const options = { kernel, alpha: spec.alpha, nCenters: 120, seed: 4 };
    const direct = new KernelRidge({ ...options, solver: 'nystroem' }).fit(train, yTrain).predict(test).data;
    const falkonFit = new KernelRidge({ ...options, solver: 'nystroem-pcg', tolerance: 1e-12 }).fit(train, yTrain).predict(test).data;
    assertClose(direct, falkonFit, 1e-8, 'FALKON at tolerance 1e-12');
  });

  it("solver 'nystroem' with several outputs: one factorization, each column as its own fit, and a JSON round trip", () =>
    withSeed((rng) => {
      const kernel = rbf({ gamma: 0.1 });
      const k = 5;
      const targets = matrix(train.rows, k, Array.from({ length: k * train.rows }, (_, e) => yTrain[Math.floor(e / k)] * (1 + (e % k)) + rng.normal()));
      const options = { kernel, alpha: 2, solver: 'nystroem' as const, nCenters: 150, seed: 6 };
      const model = new KernelRidge(options).fit(train, targets);
      const all = model.predict(test);
      expect([all.rows, all.cols]).toEqual([test.rows, k]);
      for (let c = 0; c < k; c++) {
        const column = Float64Array.from({ length: train.rows }, (_, i) => targets.data[i * k + c]);
        const single = new KernelRidge(options).fit(train, column).predict(test).data;
        assertClose(all.data.filter((_, e) => e % k === c), single, 1e-12, `output ${c}`);
      }
      const loaded = KernelRidge.load(JSON.parse(JSON.stringify(model.toJSON())) as KernelRidgeJSON);
      expect(loaded.solver).toBe('nystroem');
      assertClose(loaded.predict(test).data, all.data, 0, 'loaded');
    }));

  it('multi-output targets, a precomputed kernel and a JSON round trip', () =>
    withSeed((rng) => {
      const kernel = rbf({ gamma: 0.1 });
      const y2 = matrix(train.rows, 2, Array.from({ length: 2 * train.rows }, (_, i) => (i % 2 === 0 ? yTrain[i >> 1] : rng.normal())));
      const model = new KernelRidge({ kernel, alpha: 1, solver: 'cholesky' }).fit(train, y2);
      const single = new KernelRidge({ kernel, alpha: 1, solver: 'cholesky' }).fit(train, yTrain).predict(test).data;
      const both = model.predict(test).data;
      assertClose(both.filter((_, i) => i % 2 === 0), single, 1e-12, 'first output');
      // The default (stored-K CG) solves both columns, each to its own residual tolerance.
      const auto = new KernelRidge({ kernel, alpha: 1 }).fit(train, y2).predict(test).data;
      assertClose(auto, both, 1e-7, 'default solver, two outputs');
      const all = rowRange(x, 0, x.rows);
      const pre = precomputed(new KernelMatrix(kernel, all).toMatrix());
      const viaGram = new KernelRidge({ kernel: pre, alpha: 1, solver: 'cholesky' }).fit(rowRange(pre.points, 0, f.trainRows), yTrain);
      assertClose(viaGram.predict(rowRange(pre.points, f.trainRows, x.rows)).data, single, 1e-9, 'precomputed');
      const loaded = KernelRidge.load(JSON.parse(JSON.stringify(model.toJSON())) as KernelRidgeJSON);
      assertClose(loaded.predict(test).data, both, 0, 'loaded');
    }));

  it('refuses mismatched targets, non-finite targets, bad alpha and unfitted use', () => {
    const kernel = rbf();
    expect(() => new KernelRidge({ kernel }).fit(train, yTrain.slice(1))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    const bad = Float64Array.from(yTrain);
    bad[3] = NaN;
    expect(() => new KernelRidge({ kernel }).fit(train, bad)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new KernelRidge({ kernel, alpha: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new KernelRidge({ kernel, solver: 'nystroem-pcg', kernelCacheBytes: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new KernelRidge({ kernel }).predict(test)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new KernelRidge({ kernel, solver: 'cg', maxIterations: 2, tolerance: 1e-14 }).fit(train, yTrain)).toThrow(expect.objectContaining({ code: 'NOT_CONVERGED' }));
  });
});
