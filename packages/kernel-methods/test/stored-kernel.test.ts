import { cholesky, choleskySolve, eigh, type Matrix, matmulMatrix, matrix, type Rng, recycledArenaBytes, setArenaRecycling, setSimdKernels, setSimdThreads } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { centerGram } from '../src/operator/centered.js';
import { centeredPackedMatvec, materializeKernel, packedRowMeans, radialCrossProduct, type PackedSymmetric, packedDiagonal, packedMatvec, packedMultiply, packedRow } from '../src/operator/stored-kernel.js';
import { KernelPCA, KernelRidge, kernelBlock, laplace, matern, poly, rbf } from '../src/index.js';
import { KrylovBasis } from '../src/util/krylov-basis.js';
import { lanczosLargest } from '../src/util/lanczos.js';
import { lowRankPlusShiftInverse, pivotedCholesky } from '../src/util/pivoted-cholesky.js';

/** The full matrix from its packed rows. */
function unpack(a: PackedSymmetric): Matrix {
  const out = new Float64Array(a.n * a.n);
  for (let p = 0; p < a.n; p++) packedRow(a, p, out.subarray(p * a.n, (p + 1) * a.n));
  return { rows: a.n, cols: a.n, data: out };
}

function randomPoints(rng: Rng, n: number, d: number): Matrix {
  return matrix(n, d, Array.from({ length: n * d }, () => rng.normal()));
}

/** Dense A·B in float64, written out (independent of the packed products). */
function product(a: Matrix, b: Matrix): Float64Array {
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) for (let l = 0; l < a.cols; l++) for (let j = 0; j < b.cols; j++) out[i * b.cols + j] += a.data[i * a.cols + l] * b.data[l * b.cols + j];
  return out;
}

/** Columns of `actual` flipped to match the sign of `expected`. */
function alignSigns(actual: Matrix, expected: Matrix): Float64Array {
  const out = Float64Array.from(actual.data);
  for (let j = 0; j < actual.cols; j++) {
    let dot = 0;
    for (let i = 0; i < actual.rows; i++) dot += out[i * actual.cols + j] * expected.data[i * expected.cols + j];
    if (dot < 0) for (let i = 0; i < actual.rows; i++) out[i * actual.cols + j] *= -1;
  }
  return out;
}

function leading(m: Matrix, k: number): Matrix {
  const out = new Float64Array(m.rows * k);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < k; j++) out[i * k + j] = m.data[i * m.cols + j];
  return { rows: m.rows, cols: k, data: out };
}

describe('stored (packed) kernel matrices', () => {
  it('materialize the same K as the kernel evaluated pair by pair, for radial (Gram route, near-duplicates included) and other kernels', () =>
    withSeed((rng) => {
      const x = randomPoints(rng, 37, 5);
      // Near-duplicate and exact duplicate rows, where ‖x‖² + ‖y‖² − 2x·y cancels.
      for (let k = 0; k < 5; k++) {
        x.data[10 * 5 + k] = x.data[3 * 5 + k] + 1e-9 * rng.normal();
        x.data[20 * 5 + k] = x.data[3 * 5 + k];
      }
      for (const kernel of [rbf({ gamma: 0.3 }), matern({ nu: 0.5, lengthScale: 2 }), matern({ nu: 2.5 }), laplace({ gamma: 0.2 }), poly({ degree: 2 })]) {
        const full = unpack(materializeKernel(kernel, x));
        assertClose(full.data, kernelBlock(kernel, x, x).data, 1e-14, `${kernel.name} K`);
      }
    }));

  it('store a Gaussian K of 523 points in 70 dimensions as pair by pair: the packed dot products on the threads in passes of 32 columns, one thread\'s values bit for bit', () =>
    withSeed((rng) => {
      // 523 = 4·130 + 3: a last n mod 4 rows; 70 columns: passes of 32, 32 and 6 adding on.
      const x = randomPoints(rng, 523, 70);
      const kernel = rbf({ gamma: 0.01 });
      setSimdThreads(2);
      try {
        const threaded = materializeKernel(kernel, x);
        const values = Float64Array.from(threaded.data);
        threaded.simd?.arena.release();
        assertClose(unpack({ n: 523, data: values }).data, kernelBlock(kernel, x, x).data, 1e-14, 'K');
        setSimdThreads(1);
        const single = materializeKernel(kernel, x);
        for (let i = 0; i < values.length; i++) if (!Object.is(values[i], single.data[i])) expect.fail(`packed entry ${i}: ${values[i]} (threads) vs ${single.data[i]} (one thread)`);
        single.simd?.arena.release();
      } finally {
        setSimdThreads();
      }
    }));

  it('radial cross products K(x, y)·V by the Gram route equal the pairwise kernel times V (near-duplicates included)', () =>
    withSeed((rng) => {
      const y = randomPoints(rng, 29, 4);
      const x = randomPoints(rng, 11, 4);
      for (let k = 0; k < 4; k++) {
        x.data[2 * 4 + k] = y.data[5 * 4 + k];
        x.data[7 * 4 + k] = y.data[5 * 4 + k] + 1e-10 * rng.normal();
      }
      for (const kernel of [rbf({ gamma: 0.7 }), matern({ nu: 0.5 })]) {
        for (const cols of [1, 3]) {
          const v = matrix(29, cols, Array.from({ length: 29 * cols }, () => rng.normal()));
          assertClose(radialCrossProduct(kernel, x, y, v).data, product(kernelBlock(kernel, x, y), v), 1e-13, `${kernel.name} K·V (${cols})`);
        }
      }
    }));

  it('packed products, diagonal, row means and centered products equal their dense formulas', () =>
    withSeed((rng) => {
      for (const n of [1, 6, 33]) {
        const x = randomPoints(rng, n, 3);
        const packed = materializeKernel(rbf({ gamma: 0.5 }), x);
        const dense = kernelBlock(rbf({ gamma: 0.5 }), x, x);
        const v = matrix(n, 3, Array.from({ length: n * 3 }, () => rng.normal()));
        assertClose(packedMultiply(packed, v).data, product(dense, v), 1e-13, 'K·V');
        const column = matrix(n, 1, Array.from({ length: n }, () => rng.normal()));
        assertClose(packedMatvec(packed, column.data, new Float64Array(n)), product(dense, column), 1e-13, 'K·v');
        const p = rng.int(n);
        assertClose(packedRow(packed, p, new Float64Array(n)), dense.data.subarray(p * n, (p + 1) * n), 1e-14, `row ${p}`);
        assertClose(packedDiagonal(packed), Float64Array.from({ length: n }, (_, i) => dense.data[i * n + i]), 0, 'diagonal');
        const reference = centerGram(dense);
        const { rowMeans, mean } = packedRowMeans(packed);
        const centered = centeredPackedMatvec(packed, column.data, new Float64Array(n), new Float64Array(n));
        if (n > 1) assertClose(centered, product(reference.centered, column), 1e-12, 'H K H v');
        assertClose(rowMeans, reference.rowMeans, 1e-14, 'row means');
        expect(mean).toBeCloseTo(reference.mean, 14);
      }
    }));

  it('block products in WebAssembly (productColumns) equal the dense formula: panels, chunks, odd and multi-pass widths, threads', () =>
    withSeed((rng) => {
      // n spans the kernel's 32-row panels and 64-column chunks, and the threaded order (512).
      for (const [n, width, productColumns] of [
        [1, 3, 2],
        [7, 2, 2],
        [37, 5, 4],
        [130, 20, 32],
        [200, 70, 32],
        [517, 9, 8],
      ]) {
        const x = randomPoints(rng, n, 4);
        const kernel = rbf({ gamma: 0.3 });
        const packed = materializeKernel(kernel, x, { productColumns });
        try {
          const v = matrix(n, width, Array.from({ length: n * width }, () => rng.normal()));
          assertClose(packedMultiply(packed, v).data, product(kernelBlock(kernel, x, x), v), 1e-13, `K·V, n ${n}, ${width} columns, ${productColumns} per pass`);
          // The matrix–vector product still reads the first n values of the wider slots.
          const column = matrix(n, 1, Array.from({ length: n }, () => rng.normal()));
          assertClose(packedMatvec(packed, column.data, new Float64Array(n)), product(kernelBlock(kernel, x, x), column), 1e-13, `K·v, n ${n}`);
        } finally {
          packed.simd?.arena.release();
        }
      }
      expect(() => materializeKernel(rbf(), randomPoints(rng, 3, 2), { productColumns: 3 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});

describe('thick-restart Lanczos', () => {
  it('finds the top-k eigenpairs of a random PSD matrix like eigh, with and without restarts', () =>
    withSeed((rng) => {
      const n = 80;
      const g = randomPoints(rng, n, n);
      const a = matmulMatrix(g, g, { transposeB: true });
      const reference = eigh(a, { order: 'descending' });
      const apply = (v: Float64Array, out: Float64Array) => out.set(product(a, { rows: n, cols: 1, data: v }));
      // The basis in WebAssembly memory (SIMD orthogonalization) and in JavaScript arrays.
      for (const simd of [true, false]) {
        setSimdKernels(simd);
        try {
          for (const basisSize of [undefined, 12]) {
            const k = 5;
            const result = lanczosLargest(apply, n, k, { basisSize, tolerance: 1e-12, seed: rng.int(1000) });
            assertClose(result.values, reference.values.subarray(0, k), 1e-12, `eigenvalues (basis ${basisSize}, SIMD ${simd})`);
            const expected = leading(reference.vectors, k);
            assertClose(alignSigns(result.vectors, expected), expected.data, 1e-8, `eigenvectors (basis ${basisSize}, SIMD ${simd})`);
            if (basisSize === 12) expect(result.restarts).toBeGreaterThan(0);
          }
        } finally {
          setSimdKernels(true);
        }
      }
    }));

  it('orthogonalizes against its first vectors twice (w ⟂ them, h = their products with w), the same in SIMD and JavaScript, and restarts from Ritz vectors', () =>
    withSeed((rng) => {
      const n = 37;
      const count = 6;
      const unit = (v: Float64Array) => {
        const s = Math.hypot(...v);
        for (let i = 0; i < n; i++) v[i] /= s;
      };
      const results = [true, false].map((simd) => {
        setSimdKernels(simd);
        const basis = KrylovBasis.create(n, count + 2);
        setSimdKernels(true);
        return basis;
      });
      const start = Array.from({ length: (count + 1) * n }, () => rng.normal());
      const w0 = Float64Array.from({ length: n }, () => rng.normal());
      const outcomes = results.map((basis) => {
        // Orthonormal vectors 0..count−1, built with the basis itself.
        for (let i = 0; i < count; i++) {
          basis.w.set(start.slice(i * n, (i + 1) * n));
          basis.orthogonalize(i, new Float64Array(count));
          unit(basis.w);
          basis.vector(i).set(basis.w);
        }
        basis.vector(count).set(start.slice(count * n));
        basis.w.set(w0);
        const h = new Float64Array(count);
        basis.orthogonalize(count, h);
        for (let i = 0; i < count; i++) {
          let direct = 0;
          let residual = 0;
          for (let r = 0; r < n; r++) {
            direct += basis.vector(i)[r] * w0[r];
            residual += basis.vector(i)[r] * basis.w[r];
          }
          expect(Math.abs(h[i] - direct)).toBeLessThan(1e-13);
          expect(Math.abs(residual)).toBeLessThan(1e-14);
        }
        const w = Float64Array.from(basis.w);
        // A restart keeps two Ritz vectors (columns of Y) and moves vector `count` after them.
        const s = new Float64Array(count * count);
        for (let i = 0; i < count * count; i++) s[i] = rng.normal();
        const y = basis.ritzVectors(s, count, 2);
        for (let r = 0; r < n; r++) {
          let expected = 0;
          for (let l = 0; l < count; l++) expected += basis.vector(l)[r] * s[l * count + 1];
          expect(Math.abs(y.data[r * 2 + 1] - expected)).toBeLessThan(1e-13);
        }
        const last = Float64Array.from(basis.vector(count));
        basis.restart(y, count);
        expect(Array.from(basis.vector(1))).toEqual(Array.from({ length: n }, (_, r) => y.data[r * 2 + 1]));
        expect(Array.from(basis.vector(2))).toEqual(Array.from(last));
        basis.dispose();
        return w;
      });
      assertClose(outcomes[0], outcomes[1], 1e-13, 'SIMD against JavaScript');
    }));

  it('handles an invariant subspace (a rank-3 matrix) and the whole space (k = n)', () =>
    withSeed((rng) => {
      const n = 30;
      const g = randomPoints(rng, n, 3);
      const a = matmulMatrix(g, g, { transposeB: true });
      const reference = eigh(a, { order: 'descending' });
      const apply = (v: Float64Array, out: Float64Array) => out.set(product(a, { rows: n, cols: 1, data: v }));
      const five = lanczosLargest(apply, n, 5, { seed: rng.int(1000) });
      assertClose(five.values, reference.values.subarray(0, 5), 1e-10, 'rank 3: top five (two zeros)');
      const all = lanczosLargest(apply, n, n, { seed: rng.int(1000) });
      assertClose(all.values, reference.values, 1e-10, 'k = n');
    }));

  it('throws NotConvergedError when restarts run out, and rejects bad k', () => {
    const n = 50;
    const apply = (v: Float64Array, out: Float64Array) => {
      for (let i = 0; i < n; i++) out[i] = (1 + i / n) * v[i]; // clustered spectrum: slow
    };
    expect(() => lanczosLargest(apply, n, 4, { basisSize: 6, maxRestarts: 0, tolerance: 1e-14 })).toThrow(expect.objectContaining({ code: 'NOT_CONVERGED' }));
    expect(() => lanczosLargest(apply, n, 0)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});

describe('pivoted-Cholesky preconditioner', () => {
  it('at full rank reproduces K, and its inverse solves (FᵀF + αI) z = r', () =>
    withSeed((rng) => {
      const n = 25;
      const x = randomPoints(rng, n, 2);
      const k = kernelBlock(rbf({ gamma: 0.4 }), x, x);
      const diagonal = Float64Array.from({ length: n }, (_, i) => k.data[i * n + i]);
      const column = (p: number, out: Float64Array) => {
        for (let i = 0; i < n; i++) out[i] = k.data[i * n + p];
      };
      const full = pivotedCholesky(diagonal, column, n, 0);
      const f = matrix(full.rows.length, n, full.rows.flatMap((r) => Array.from(r)));
      assertClose(matmulMatrix(f, f, { transposeA: true }).data, k.data, 1e-10, 'FᵀF');
      const partial = pivotedCholesky(diagonal, column, 4, 0);
      expect(partial.rows.length).toBe(4);
      const fp = matrix(4, n, partial.rows.flatMap((r) => Array.from(r)));
      const alpha = 0.3;
      const shifted = matmulMatrix(fp, fp, { transposeA: true });
      for (let i = 0; i < n; i++) shifted.data[i * n + i] += alpha;
      const r = matrix(n, 2, Array.from({ length: 2 * n }, () => rng.normal()));
      assertClose(lowRankPlusShiftInverse(partial.rows, alpha)(r).data, choleskySolve(cholesky(shifted), r).data, 1e-10, 'Woodbury solve');
    }));
});

describe('KernelRidge and KernelPCA on the stored kernel matrix', () => {
  it('PCG predictions (vector and matrix targets) match the Cholesky solve within 1e-6 at the default tolerance', () =>
    withSeed((rng) => {
      const x = randomPoints(rng, 300, 4);
      const test = randomPoints(rng, 40, 4);
      const y = matrix(300, 2, Array.from({ length: 600 }, () => rng.normal()));
      const kernel = rbf({ gamma: 0.2 });
      for (const alpha of [1, 1e-3]) {
        const reference = new KernelRidge({ kernel, alpha, solver: 'cholesky' }).fit(x, y).predict(test);
        for (const preconditionerRank of [undefined, 50]) {
          const model = new KernelRidge({ kernel, alpha, solver: 'pcg', preconditionerRank, maxIterations: 5000 }).fit(x, y);
          assertClose(model.predict(test).data, reference.data, 1e-6, `pcg α=${alpha} rank ${preconditionerRank}`);
        }
      }
    }));

  it('the pivoted-Cholesky preconditioner also serves lazy CG: same predictions, fewer iterations at small α', () =>
    withSeed((rng) => {
      const x = randomPoints(rng, 150, 3);
      const y = Array.from({ length: 150 }, () => rng.normal());
      const kernel = rbf({ gamma: 0.3 });
      const alpha = 1e-3;
      const reference = new KernelRidge({ kernel, alpha, solver: 'cholesky' }).fit(x, y).predict(x);
      const plain = new KernelRidge({ kernel, alpha, solver: 'cg', maxIterations: 5000 }).fit(x, y);
      const preconditioned = new KernelRidge({ kernel, alpha, solver: 'cg', preconditionerRank: 40, maxIterations: 5000 }).fit(x, y);
      for (const model of [plain, preconditioned]) assertClose(model.predict(x).data, reference.data, 1e-6, 'lazy cg predictions');
      expect(preconditioned.iterations as number).toBeLessThan(plain.iterations as number);
    }));

  it('Lanczos KPCA equals the exact solver on random data (eigenvalues, embedding up to sign, transform)', () =>
    withSeed((rng) => {
      const x = randomPoints(rng, 250, 3);
      const test = randomPoints(rng, 20, 3);
      const kernel = rbf({ gamma: 0.3 });
      const exact = new KernelPCA({ kernel, nComponents: 6, solver: 'exact' });
      const lanczos = new KernelPCA({ kernel, nComponents: 6, solver: 'lanczos', seed: rng.int(1000) });
      const ze = exact.fitTransform(x);
      const zl = lanczos.fitTransform(x);
      assertClose(lanczos.eigenvalues as Float64Array, exact.eigenvalues as Float64Array, 1e-10, 'eigenvalues');
      assertClose(alignSigns(zl, ze), ze.data, 1e-7, 'embedding');
      const te = exact.transform(test);
      assertClose(alignSigns(lanczos.transform(test), te), te.data, 1e-7, 'transform');
    }));

  it('a forced stored-K solver over the memory budget throws BudgetTooSmallError; auto falls back to the lazy solver', () =>
    withSeed((rng) => {
      const x = randomPoints(rng, 120, 2);
      const y = Array.from({ length: 120 }, () => rng.normal());
      const kernel = rbf();
      expect(() => new KernelRidge({ kernel, solver: 'pcg', maxMemoryBytes: 1024 }).fit(x, y)).toThrow(expect.objectContaining({ code: 'BUDGET_TOO_SMALL' }));
      const auto = new KernelRidge({ kernel, maxMemoryBytes: 1024, tolerance: 1e-10 });
      expect(auto.resolveSolver(120)).toBe('cg');
      const stored = new KernelRidge({ kernel, tolerance: 1e-10 }).fit(x, y);
      assertClose(auto.fit(x, y).dualCoef.data, stored.dualCoef.data, 1e-7, 'lazy vs stored');
      expect(() => new KernelRidge({ kernel, preconditionerRank: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => new KernelRidge({ kernel, maxMemoryBytes: Number.NaN })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));

  it('a fit done with its stored K keeps the memory for the next fit, which gives the same values bit for bit as on fresh memory', () =>
    withSeed((rng) => {
      const x = randomPoints(rng, 600, 6);
      const y = matrix(600, 1, Array.from({ length: 600 }, () => rng.normal()));
      const kernel = rbf({ gamma: 0.2 });
      const fits = () => ({
        kpca: new KernelPCA({ kernel, nComponents: 4, solver: 'lanczos' }).fit(x).transform(x).data,
        randomized: new KernelPCA({ kernel, nComponents: 4, solver: 'randomized', seed: 1 }).fit(x).eigenvalues as Float64Array,
        krr: new KernelRidge({ kernel, alpha: 0.5, solver: 'pcg' }).fit(x, y).dualCoef.data,
      });
      try {
        setArenaRecycling(0);
        const fresh = fits();
        setArenaRecycling(64 * 2 ** 20);
        fits();
        // K of 600 points, packed: 1.4 MB (with SIMD; nothing is kept without it).
        expect(recycledArenaBytes()).toBeGreaterThanOrEqual(600 * 601 * 4);
        const reused = fits();
        for (const key of ['kpca', 'randomized', 'krr'] as const) expect(Array.from(reused[key]), key).toEqual(Array.from(fresh[key]));
      } finally {
        setArenaRecycling();
      }
    }));
});
