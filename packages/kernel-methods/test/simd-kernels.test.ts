// The WebAssembly SIMD loops of the stored kernel matrix against direct float64 formulas and the
// JavaScript loops, at sizes around their blocking (4 rows, pairs of columns, 256-column chunks).
import { type Matrix, matrix, type Rng, setSimdThreads } from '@kvkit/tensor-core';
import { assertClose, withSeed, withUnfusedProducts } from '@kvkit/tensor-core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { KernelRidge, kernelBlock, matern, rbf, setSimdKernels } from '../src/index.js';
import { radialCrossRows } from '../src/operator/radial-cross.js';
import { crossProduct } from '../src/operator/cross-product.js';
import { materializeKernel, packedMatvec, packedRow, radialCrossProduct, triangleRowRanges, type PackedSymmetric } from '../src/operator/stored-kernel.js';
import { addressOf, SimdArena } from '../src/wasm/simd-arena.js';

function randomPoints(rng: Rng, n: number, d: number): Matrix {
  return matrix(n, d, Array.from({ length: n * d }, () => rng.normal()));
}

function unpack(a: PackedSymmetric): Float64Array {
  const out = new Float64Array(a.n * a.n);
  for (let p = 0; p < a.n; p++) packedRow(a, p, out.subarray(p * a.n, (p + 1) * a.n));
  return out;
}

/** A·v for the full matrix, in float64, written out. */
function matvec(a: Float64Array, n: number, v: Float64Array): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i] += a[i * n + j] * v[j];
  return out;
}

afterEach(() => {
  setSimdKernels(true);
  setSimdThreads();
});

describe('WebAssembly SIMD loops of the stored kernel matrix', () => {
  it('run in Node: a materialized matrix lives in WebAssembly memory, and not when they are turned off', () => {
    const x = matrix(6, 2, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(materializeKernel(rbf({ gamma: 0.1 }), x).simd).toBeDefined();
    setSimdKernels(false);
    expect(materializeKernel(rbf({ gamma: 0.1 }), x).simd).toBeUndefined();
  });

  it('Gram-route K equals the pairwise kernel and the JavaScript loops, at every blocking edge', () =>
    withSeed((rng) => {
      const kernel = rbf({ gamma: 0.05 });
      for (const [n, d] of [[1, 3], [2, 1], [3, 2], [4, 5], [5, 25], [7, 2], [8, 3], [255, 4], [256, 1], [257, 3], [301, 25], [517, 64]]) {
        const x = randomPoints(rng, n, d);
        setSimdKernels(true);
        const simd = materializeKernel(kernel, x);
        expect(simd.simd, 'SIMD path').toBeDefined();
        setSimdKernels(false);
        const plain = materializeKernel(kernel, x);
        const full = unpack(simd);
        if (n <= 301) assertClose(full, kernelBlock(kernel, x, x).data, 1e-13, `n=${n} d=${d} vs pairwise`);
        assertClose(full, unpack(plain), 1e-14, `n=${n} d=${d} vs JavaScript loops`);
      }
    }));

  it('packed K·v equals the dense product and the JavaScript loop (odd and even n, repeated calls)', () =>
    withSeed((rng) => {
      const kernel = matern({ nu: 1.5 });
      for (const n of [1, 2, 3, 4, 5, 6, 9, 64, 131, 402]) {
        const x = randomPoints(rng, n, 3);
        const simd = materializeKernel(kernel, x);
        setSimdKernels(false);
        const plain = materializeKernel(kernel, x);
        setSimdKernels(true);
        const full = unpack(simd);
        for (let repeat = 0; repeat < 2; repeat++) {
          const v = Float64Array.from({ length: n }, () => rng.normal());
          const out = new Float64Array(n).fill(Number.NaN); // the product overwrites, never accumulates
          packedMatvec(simd, v, out);
          assertClose(out, matvec(full, n, v), 1e-13, `n=${n} vs dense`);
          assertClose(out, packedMatvec(plain, v, new Float64Array(n)), 1e-14, `n=${n} vs JavaScript loop`);
        }
      }
    }));

  it('cross products K(x, y)·V equal the pairwise kernel times V with short last blocks and column tails', () =>
    withSeed((rng) => {
      const kernel = rbf({ gamma: 0.2 });
      for (const [n, m, d, k] of [[1, 1, 1, 1], [3, 5, 2, 1], [6, 7, 4, 3], [13, 258, 25, 2], [9, 131, 5, 7], [5, 33, 3, 8], [4, 1, 2, 4]]) {
        const x = randomPoints(rng, n, d);
        const y = randomPoints(rng, m, d);
        const v = randomPoints(rng, m, k);
        const kxy = kernelBlock(kernel, x, y);
        const expected = new Float64Array(n * k);
        for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let l = 0; l < k; l++) expected[i * k + l] += kxy.data[i * m + j] * v.data[j * k + l];
        const simd = radialCrossProduct(kernel, x, y, v).data;
        setSimdKernels(false);
        const plain = radialCrossProduct(kernel, x, y, v).data;
        setSimdKernels(true);
        assertClose(simd, expected, 1e-13, `n=${n} m=${m} d=${d} k=${k}`);
        assertClose(simd, plain, 1e-14, `n=${n} m=${m} vs JavaScript loops`);
      }
    }));

  it('crossProduct with a V too large for the cache (m·k > 32768) goes through kernel-row tiles and matmul panels: the same values as four-row blocks', () =>
    withSeed((rng) => {
      const kernel = rbf({ gamma: 0.2 });
      // 700 rows make six tiles of 109 kernel rows (256² values each at m = 601) and a short one.
      const [n, m, d, k] = [700, 601, 6, 60];
      const x = randomPoints(rng, n, d);
      const y = randomPoints(rng, m, d);
      const v = randomPoints(rng, m, k);
      // The first 50 columns alone (m·50 ≤ 32768) take the four-row path: every entry is the same
      // sum, with tensor-core's matmul panels unfused (fused multiply-adds round once per term).
      const narrow = { rows: m, cols: 50, data: Float64Array.from({ length: m * 50 }, (_, e) => v.data[Math.floor(e / 50) * k + (e % 50)]) };
      withUnfusedProducts(() => {
        const unfused = crossProduct(kernel, x, y, v, {}).data;
        const rows = crossProduct(kernel, x, y, narrow, {}).data;
        expect(Array.from(unfused.filter((_, e) => e % k < 50))).toEqual(Array.from(rows));
      });
      const panels = crossProduct(kernel, x, y, v, {}).data;
      const kxy = kernelBlock(kernel, x, y);
      const expected = new Float64Array(n * k);
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let l = 0; l < k; l++) expected[i * k + l] += kxy.data[i * m + j] * v.data[j * k + l];
      assertClose(panels, expected, 1e-13, 'vs the pairwise kernel times V');
    }));

  it('FALKON on the cached K_nm (one SIMD pass per CG product) equals the tiled JavaScript loops, n mod 4 = 0…3, 1–17 outputs', () =>
    withSeed((rng) => {
      const kernel = rbf({ gamma: 0.3 });
      for (const [n, k] of [[40, 1], [41, 1], [42, 1], [43, 1], [41, 3], [42, 17]]) {
        const x = randomPoints(rng, n, 3);
        const y = matrix(n, k, Array.from({ length: n * k }, (_, e) => Math.sin((1 + (e % k)) * x.data[3 * Math.floor(e / k)]) + 0.1 * rng.normal()));
        const fit = (cacheBytes: number) =>
          new KernelRidge({ kernel, alpha: 0.5, solver: 'nystroem-pcg', nCenters: 9, seed: 1, tolerance: 1e-12, kernelCacheBytes: cacheBytes }).fit(x, y);
        const cached = fit(2 ** 20);
        const tiled = fit(0);
        setSimdKernels(false);
        const plainCached = fit(2 ** 20);
        setSimdKernels(true);
        const probe = randomPoints(rng, 5, 3);
        const expected = tiled.predict(probe).data;
        assertClose(cached.predict(probe).data, expected, 1e-10, `n=${n} k=${k}: SIMD cache vs tiled JavaScript`);
        assertClose(plainCached.predict(probe).data, expected, 1e-10, `n=${n} k=${k}: JavaScript cache vs tiled`);
      }
    }));

  it('FALKON on a cached K_nm past the threads\' threshold (n·m ≥ 2¹⁸) splits its row blocks among the threads, 1–17 outputs: the tiled loops\' fit', () =>
    withSeed((rng) => {
      const kernel = rbf({ gamma: 0.3 });
      for (const [n, k] of [[1030, 1], [1031, 3], [1029, 17]]) {
        const x = randomPoints(rng, n, 3);
        const y = matrix(n, k, Array.from({ length: n * k }, (_, e) => Math.sin((1 + (e % k)) * x.data[3 * Math.floor(e / k)]) + 0.1 * rng.normal()));
        const fit = (cacheBytes: number) =>
          new KernelRidge({ kernel, alpha: 0.5, solver: 'nystroem-pcg', nCenters: 256, seed: 1, tolerance: 1e-12, kernelCacheBytes: cacheBytes }).fit(x, y);
        const probe = randomPoints(rng, 5, 3);
        const expected = fit(0).predict(probe).data;
        setSimdThreads(2);
        try {
          assertClose(fit(2 ** 24).predict(probe).data, expected, 1e-9, `n=${n} k=${k}: threaded SIMD cache vs tiled JavaScript`);
        } finally {
          setSimdThreads();
        }
      }
    }));

  it('splits a packed triangle into row ranges of about equal entries, on block boundaries', () => {
    for (const [n, parts] of [[600, 2], [603, 3], [5, 2], [4001, 4], [512, 1]]) {
      const ranges = triangleRowRanges(n, parts);
      expect(ranges.length).toBe(parts);
      expect(ranges[0][0]).toBe(0);
      expect(ranges[parts - 1][1]).toBe(n);
      const entries = ranges.map(([from, to]) => {
        expect(from % 4).toBe(0);
        expect(to === n || to % 4 === 0).toBe(true);
        return ((to - from) * (2 * n - from - to + 1)) / 2;
      });
      for (let t = 1; t < parts; t++) expect(ranges[t][0]).toBe(ranges[t - 1][1]);
      if (n >= 512) for (const count of entries) expect(Math.abs(count - (n * (n + 1)) / 2 / parts)).toBeLessThan(4 * n);
    }
  });

  it('with worker threads: the same stored K, its products within rounding of one thread, and FALKON alike', () =>
    withSeed((rng) => {
      const kernel = rbf({ gamma: 0.05 });
      for (const n of [600, 601, 602, 603]) {
        const x = randomPoints(rng, n, 5);
        const v = Float64Array.from({ length: n }, () => rng.normal());
        setSimdThreads(2);
        const threaded = materializeKernel(kernel, x);
        expect(threaded.simd?.arena.threads?.count, 'threads attached').toBe(2);
        const threadedProduct = packedMatvec(threaded, v, new Float64Array(n));
        const data = Float64Array.from(threaded.data);
        threaded.simd?.arena.release();
        setSimdThreads(1);
        const single = materializeKernel(kernel, x);
        expect(single.simd?.arena.threads).toBeNull();
        expect(Array.from(data), `n = ${n}: K`).toEqual(Array.from(single.data));
        const product = packedMatvec(single, v, new Float64Array(n));
        assertClose(threadedProduct, product, 1e-14, `n = ${n}: K·v on two threads vs one`);
        assertClose(product, matvec(unpack(single), n, v), 1e-13, `n = ${n}: K·v vs the dense product`);
      }
      const x = randomPoints(rng, 701, 4);
      const y = Float64Array.from({ length: 701 }, (_, i) => Math.cos(x.data[4 * i]) + 0.1 * rng.normal());
      const probe = randomPoints(rng, 7, 4);
      const fit = () => new KernelRidge({ kernel, alpha: 0.3, solver: 'nystroem-pcg', nCenters: 400, seed: 2, tolerance: 1e-12 }).fit(x, y).predict(probe).data;
      setSimdThreads(2);
      const threaded = fit();
      setSimdThreads(1);
      assertClose(threaded, fit(), 1e-10, 'FALKON on two threads vs one');
    }));

  it('cross kernel rows k(x, y) for any row range equal the pairwise kernel (Gaussian in WebAssembly, Matérn in JavaScript)', () =>
    withSeed((rng) => {
      for (const kernel of [rbf({ gamma: 0.3 }), matern({ nu: 2.5 })]) {
        const x = randomPoints(rng, 23, 6);
        const y = randomPoints(rng, 41, 6);
        const expected = kernelBlock(kernel, x, y).data;
        const rows = radialCrossRows(kernel, x, y);
        for (const [r0, r1] of [[0, 23], [3, 10], [22, 23], [5, 5]]) {
          const out = new Float64Array((r1 - r0) * 41);
          rows(r0, r1, out);
          assertClose(out, expected.subarray(r0 * 41, r1 * 41), 1e-13, `${kernel.name} rows ${r0}–${r1}`);
        }
      }
    }));

  it('the Gaussian profile exp(−γs) is within 2 ulp of Math.exp down to 2.23e-308 and 0 (or within 2.3e-308) below', () =>
    withSeed((rng) => {
      const count = 20001;
      const arena = SimdArena.create([count, count]) as SimdArena;
      const [row, norms] = arena.arrays;
      // norms = 0 and products −s/2 give exactly s = 0 + 0 − 2·(−s/2): the exp alone is under test.
      const s = Float64Array.from({ length: count }, (_, j) => (j % 2 ? rng.uniform() * 760 : (j / count) * 760));
      for (let j = 0; j < count; j++) row[j] = -s[j] / 2;
      const gamma = 1;
      arena.kernels.gaussianFromProducts(addressOf(row), addressOf(norms), 0, 0, count, gamma);
      for (let j = 0; j < count; j++) {
        const expected = Math.exp(-gamma * s[j]);
        const error = Math.abs(row[j] - expected);
        if (expected >= 2.23e-308) {
          if (error > 2 * Number.EPSILON * expected) throw new Error(`exp(−${s[j]}) = ${row[j]}, Math.exp gives ${expected}`);
        } else if (!(error <= 2.3e-308)) throw new Error(`exp(−${s[j]}) = ${row[j]} in the subnormal range, Math.exp gives ${expected}`);
      }
      expect(row[0]).toBe(1);
    }));
});
