import { getBackend, type Matrix, matmulMatrix, matrix, setSimdThreads, simdThreadCount } from '@kvkit/tensor-core';
import { threadedGaussianLowerRows, threadedGaussianRows } from '../src/operator/threaded-gaussian-cross.js';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import {
  besselK,
  cosine,
  imq,
  type Kernel,
  KernelMatrix,
  kernelBlock,
  kernelFromJSON,
  laplace,
  linear,
  matern,
  medianBandwidth,
  poly,
  powerKernel,
  precomputed,
  rbf,
  sumKernel,
} from '../src/index.js';
import { boston, fixtures, flat, rowRange } from './datasets.js';

function randomPoints(rng: { normal(): number }, n: number, d: number): Matrix {
  return matrix(n, d, Array.from({ length: n * d }, () => rng.normal()));
}

describe('kernels against scikit-learn on Boston rows', () => {
  const { x } = boston();
  const f = fixtures.kernels;
  const a = rowRange(x, f.rows[0], f.rows[1]);
  const b = rowRange(x, f.cols[0], f.cols[1]);
  const cases: [string, Kernel, unknown][] = [
    ['rbf', rbf({ gamma: f.rbf.gamma }), f.rbf.K],
    ['laplace', laplace({ gamma: f.laplace.gamma }), f.laplace.K],
    ['poly', poly({ degree: f.poly.degree, gamma: f.poly.gamma, coef0: f.poly.coef0 }), f.poly.K],
    ['linear', linear(), f.linear.K],
    ['cosine', cosine(), f.cosine.K],
    ...f.matern.map((m: { nu: number; lengthScale: number; K: unknown }) => [`matern ν=${m.nu}`, matern({ nu: m.nu, lengthScale: m.lengthScale }), m.K] as [string, Kernel, unknown]),
  ];
  for (const [name, kernel, expected] of cases) {
    it(name, () => assertClose(kernelBlock(kernel, a, b).data, flat(expected), 1e-9, name));
  }
});

describe('special functions', () => {
  it('K_ν matches the closed forms at half-integer orders', () => {
    for (const z of [0.01, 0.3, 1, 4.5, 30, 200]) {
      const k12 = Math.sqrt(Math.PI / (2 * z)) * Math.exp(-z);
      assertClose([besselK(0.5, z)], [k12], 1e-12, `K_1/2(${z})`);
      assertClose([besselK(1.5, z)], [k12 * (1 + 1 / z)], 1e-12, `K_3/2(${z})`);
      assertClose([besselK(2.5, z, true)], [Math.exp(z) * k12 * (1 + 3 / z + 3 / (z * z))], 1e-12, `scaled K_5/2(${z})`);
    }
  });
});

describe('lazy kernel matrices', () => {
  it('products, row sums, diagonal and blocks equal the explicit matrix (symmetric, odd tile sizes)', () =>
    withSeed((rng) => {
      const x = randomPoints(rng, 53, 4);
      const kernel = rbf({ gamma: 0.3 });
      const dense = kernelBlock(kernel, x, x);
      const v = randomPoints(rng, 53, 3);
      for (const tileSize of [1, 7, 16, 64]) {
        const op = new KernelMatrix(kernel, x, undefined, { tileSize });
        assertClose(op.multiply(v).data, matmulMatrix(dense, v).data, 1e-13, `K·V (tile ${tileSize})`);
        // Radial kernels materialize by the Gram route ‖x‖² + ‖y‖² − 2x·y: rounding apart from the
        // per-entry formula, exactly symmetric, the diagonal k(x, x) exact.
        const materialized = op.toMatrix().data;
        assertClose(materialized, dense.data, 1e-14, 'materialized');
        for (let i = 0; i < 53; i++) {
          expect(materialized[i * 54]).toBe(1);
          for (let j = 0; j < i; j++) expect(materialized[i * 53 + j]).toBe(materialized[j * 53 + i]);
        }
      }
      const op = new KernelMatrix(kernel, x, undefined, { tileSize: 10 });
      assertClose(op.rowSums(), Array.from({ length: 53 }, (_, i) => dense.data.subarray(i * 53, i * 53 + 53).reduce((s, t) => s + t, 0)), 1e-13, 'row sums');
      assertClose(op.diag(), new Float64Array(53).fill(1), 0, 'diagonal');
      const blk = op.block(5, 9, 40, 53);
      expect([blk.rows, blk.cols]).toEqual([4, 13]);
      assertClose(blk.data, Array.from({ length: 52 }, (_, t) => dense.data[(5 + Math.floor(t / 13)) * 53 + 40 + (t % 13)]), 0, 'block');
    }));

  it('rectangular operators multiply and multiply transposed', () =>
    withSeed((rng) => {
      const x = randomPoints(rng, 31, 3);
      const y = randomPoints(rng, 17, 3);
      const kernel = matern({ nu: 2.5, lengthScale: 1.3 });
      const dense = kernelBlock(kernel, x, y);
      const op = new KernelMatrix(kernel, x, y, { tileSize: 8 });
      const v = randomPoints(rng, 17, 2);
      const u = randomPoints(rng, 31, 2);
      assertClose(op.multiply(v).data, matmulMatrix(dense, v).data, 1e-13, 'K·V');
      assertClose(op.multiplyTransposed(u).data, matmulMatrix(dense, u, { transposeA: true }).data, 1e-13, 'Kᵀ·U');
      assertClose(op.toMatrix().data, dense.data, 1e-14, 'materialized');
      expect(() => op.diag()).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    }));

  it('the tensor tile path (tensor-core ops on the CPU backend, f32) agrees with the float64 host path', () =>
    withSeed(async (rng) => {
      const x = randomPoints(rng, 45, 5);
      const y = randomPoints(rng, 38, 5);
      const v = randomPoints(rng, 38, 2);
      const kernels: Kernel[] = [
        rbf({ gamma: 0.2 }),
        laplace({ gamma: 0.3 }),
        matern({ nu: 0.5, lengthScale: 2 }),
        matern({ nu: 1.5, lengthScale: 2 }),
        matern({ nu: 2.5, lengthScale: 2 }),
        imq({ c: 1.5, beta: 0.5 }),
        linear(),
        poly({ degree: 2, gamma: 0.5, coef0: 1 }),
        cosine(),
        sumKernel([rbf({ gamma: 0.2 }), laplace({ gamma: 0.1 })], [1, 0.5]),
      ];
      for (const kernel of kernels) {
        const host = new KernelMatrix(kernel, x, y, { tileSize: 16 }).multiply(v);
        const device = new KernelMatrix(kernel, x, y, { tileSize: 16, engine: getBackend('cpu') });
        expect(device.engine).toBe('cpu');
        assertClose(device.multiply(v).data, host.data, 1e-5, `${kernel.name} sync`);
        assertClose((await device.multiplyAsync(v)).data, host.data, 1e-5, `${kernel.name} async`);
        // Kᵀ(K·V) chained on the engine, and on the host engine (the same float64 products).
        const hostOperator = new KernelMatrix(kernel, x, y, { tileSize: 16 });
        const normal = hostOperator.multiplyTransposed(host);
        assertClose((await device.multiplyNormalAsync(v)).data, normal.data, 1e-5, `${kernel.name} Kᵀ(K·V)`);
        expect(Array.from((await hostOperator.multiplyNormalAsync(v)).data)).toEqual(Array.from(normal.data));
        const sym = new KernelMatrix(kernel, x, undefined, { tileSize: 16, engine: 'cpu' });
        assertClose(await sym.rowSumsAsync(), new KernelMatrix(kernel, x).rowSums(), 1e-5, `${kernel.name} row sums`);
        device.dispose();
        sym.dispose();
      }
    }));

  it('toMatrix of a Gaussian kernel on the worker threads: the one-thread values bit for bit, exactly symmetric, the pairwise formula', () =>
    withSeed((rng) => {
      // 820² × 25 multiply-adds: past the threaded rows' 2²⁴; 820 rows make a short last tile (820 − 512).
      const n = 820;
      const x = matrix(n, 25, Array.from({ length: n * 25 }, () => rng.normal()));
      const kernel = rbf({ gamma: 0.02 });
      setSimdThreads(2);
      const threaded = new KernelMatrix(kernel, x).toMatrix().data;
      if (simdThreadCount() > 1) expect(threadedGaussianRows(kernel, x, x, new Float64Array(n * n))).toBe(true);
      setSimdThreads(1);
      const single = new KernelMatrix(kernel, x).toMatrix().data;
      setSimdThreads();
      for (let i = 0; i < single.length; i++) if (!Object.is(threaded[i], single[i])) expect.fail(`entry ${i}: ${threaded[i]} (threads) vs ${single[i]} (one thread)`);
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) if (threaded[i * n + j] !== threaded[j * n + i]) expect.fail(`K[${i}][${j}] ≠ K[${j}][${i}]`);
      for (const [i, j] of [[0, 1], [17, 803], [819, 400]]) {
        let s = 0;
        for (let c = 0; c < 25; c++) s += (x.data[i * 25 + c] - x.data[j * 25 + c]) ** 2;
        expect(threaded[i * n + j]).toBeCloseTo(Math.exp(-0.02 * s), 14);
      }
    }));

  it('lowerTriangleMatrix: toMatrix\'s lower triangle bit for bit (a Gaussian kernel computes only it, zeros above), the whole matrix for other kernels', () =>
    withSeed((rng) => {
      // 1203² × 25 / 2 multiply-adds: past the threaded rows' 2²⁴; tiles of 512, 512 and 179 rows.
      const n = 1203;
      const x = matrix(n, 25, Array.from({ length: n * 25 }, () => rng.normal()));
      const kernel = rbf({ gamma: 0.02 });
      setSimdThreads(2);
      try {
        if (simdThreadCount() > 1) expect(threadedGaussianLowerRows(kernel, x, new Float64Array(n * n))).toBe(true);
        const lower = new KernelMatrix(kernel, x).lowerTriangleMatrix().data;
        const full = new KernelMatrix(kernel, x).toMatrix().data;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j <= i; j++) if (!Object.is(lower[i * n + j], full[i * n + j])) expect.fail(`K[${i}][${j}]: ${lower[i * n + j]} vs toMatrix's ${full[i * n + j]}`);
          expect(lower[i * n + i]).toBe(1);
        }
        if (simdThreadCount() > 1) for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (lower[i * n + j] !== 0) expect.fail(`K[${i}][${j}] above the diagonal is ${lower[i * n + j]}`);
        const other = laplace({ gamma: 0.1 });
        const small = matrix(40, 3, Array.from({ length: 120 }, () => rng.normal()));
        expect(new KernelMatrix(other, small).lowerTriangleMatrix().data).toEqual(new KernelMatrix(other, small).toMatrix().data);
        expect(() => new KernelMatrix(kernel, small, x).lowerTriangleMatrix()).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      } finally {
        setSimdThreads();
      }
    }));

  it('refuses the tensor engine for kernels without a tensor formula', () => {
    expect(() => new KernelMatrix(matern({ nu: 0.8 }), matrix(3, 1, [0, 1, 2]), undefined, { engine: 'cpu' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });
});

describe('bandwidth and power kernels', () => {
  it('the median heuristic is the median pairwise distance', () => {
    const x = matrix(4, 1, [0, 1, 3, 7]);
    // distances: 1, 3, 7, 2, 6, 4 → median (3 + 4) / 2
    expect(medianBandwidth(x)).toBeCloseTo(3.5, 12);
    expect(() => medianBandwidth(matrix(3, 1, [1, 1, 1]))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });

  it('α-power kernels convolve back to the kernel: ∫ k_α(x − z) k_{1−α}(z − y) dz ∝ k(x − y) (1-D quadrature)', () => {
    const cases: [string, Kernel, number][] = [
      ['rbf', rbf({ gamma: 0.7 }), 0.5],
      ['matern 5/2 (power has ν = 1, the Bessel path)', matern({ nu: 2.5, lengthScale: 1.2 }), 0.5],
      ['laplace', laplace({ gamma: 1.1 }), 0.75],
    ];
    for (const [name, kernel, alpha] of cases) {
      if (alpha !== 0.5) continue; // laplace: 1 − α < 1/2 has no power kernel; checked below
      const ka = powerKernel(kernel, alpha, 1);
      const kb = ka;
      const value = (k: Kernel, t: number) => kernelBlock(k, matrix(1, 1, [t]), matrix(1, 1, [0])).data[0];
      const conv = (t: number) => {
        let s = 0;
        const h = 0.01;
        for (let z = -40; z <= 40; z += h) s += value(ka, z) * value(kb, t - z) * h;
        return s;
      };
      const c0 = conv(0);
      for (const t of [0.3, 1, 2.5]) assertClose([conv(t) / c0], [value(kernel, t)], 1e-4, `${name} at ${t}`);
    }
    // Laplace: the 3/4-power is a product of 1-D Matérn ν = 1/4 kernels (Fourier transform k̂^{3/4}).
    const k34 = powerKernel(laplace({ gamma: 1.1 }), 0.75, 1);
    expect(k34.name).toBe('productMatern');
    expect(k34.params.nu).toBeCloseTo(0.25, 12);
    expect(() => powerKernel(laplace({ gamma: 1 }), 0.5, 1)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => powerKernel(matern({ nu: 0.5 }), 0.5, 3)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});

describe('precomputed kernels and bad input', () => {
  it('a precomputed Gram matrix behaves like its kernel; JSON round trips', () =>
    withSeed((rng) => {
      const x = randomPoints(rng, 12, 3);
      const kernel = rbf({ gamma: 0.4 });
      const gram = kernelBlock(kernel, x, x);
      const pre = precomputed(gram);
      const v = randomPoints(rng, 12, 1);
      assertClose(new KernelMatrix(pre, pre.points).multiply(v).data, matmulMatrix(gram, v).data, 1e-14, 'precomputed product');
      for (const k of [kernel, laplace({ gamma: 2 }), matern({ nu: 0.8 }), imq(), poly({ degree: 2 }), cosine(), linear(), pre, sumKernel([kernel, linear()])]) {
        const back = kernelFromJSON(JSON.parse(JSON.stringify(k.toJSON())));
        const pts = k === pre ? pre.points : x;
        assertClose(kernelBlock(back, pts, pts).data, kernelBlock(k, pts, pts).data, 0, `${k.name} round trip`);
      }
    }));

  it('refuses a non-PSD or asymmetric precomputed kernel and out-of-range indices', () => {
    expect(() => precomputed(matrix(2, 2, [1, 2, 2, 1]))).toThrow(expect.objectContaining({ code: 'NOT_POSITIVE_DEFINITE' }));
    expect(() => precomputed(matrix(2, 2, [1, 0.5, 0.1, 1]))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => precomputed(matrix(2, 3))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => precomputed(matrix(2, 2, [1, NaN, NaN, 1]))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    const pre = precomputed(matrix(2, 2, [1, 0.5, 0.5, 1]));
    expect(() => new KernelMatrix(pre, matrix(1, 1, [2])).rowSums()).toThrow(expect.objectContaining({ code: 'INDEX_OUT_OF_RANGE' }));
  });

  it('refuses non-finite points, ragged rows and mismatched dimensions', () => {
    expect(() => new KernelMatrix(rbf(), matrix(2, 2, [0, 1, Infinity, 0]))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new KernelMatrix(rbf(), [[1, 2], [3]])).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => new KernelMatrix(rbf(), matrix(2, 2), matrix(2, 3))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => new KernelMatrix(rbf(), matrix(0, 2))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => rbf({ gamma: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => rbf({ gamma: 1, bandwidth: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new KernelMatrix(rbf(), matrix(3, 2)).multiply(matrix(2, 1))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
  });
});
