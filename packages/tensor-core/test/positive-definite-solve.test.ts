// positiveDefiniteSolve (float32 Cholesky refined in float64, LAPACK's dsposv) against the
// definition: the residual (A + jitter·I)X − B computed here in float64 by direct loops must sit at
// float64's backward-error level, and X must agree with the float64 factorization's solve. The
// float32 factor itself is checked against L Lᵀ = A to float32's level; orders that are not
// multiples of 4 or 8 reach every column tail of the float32 kernel.
import { describe, expect, it } from 'vitest';
import { NotPositiveDefiniteError } from '../src/errors.js';
import { blockedCholesky } from '../src/linalg/cholesky.js';
import { cholesky, choleskySolve, type Matrix, positiveDefiniteSolve } from '../src/linalg/index.js';
import type { Rng } from '../src/rng.js';
import { setSimdKernels } from '../src/simd/index.js';
import { withSeed } from '../src/testing/index.js';
import { rbfGram } from './random-matrices.js';

const randomMatrix = (rng: Rng, rows: number, cols: number): Matrix => ({ rows, cols, data: Float64Array.from({ length: rows * cols }, () => rng.normal()) });

/** max over columns of ‖(A + jI)x_c − b_c‖∞ / (‖A + jI‖∞ · ‖x_c‖∞), by direct float64 loops. */
function backwardError(a: Matrix, x: Matrix, b: Matrix, jitter: number): number {
  const n = a.rows;
  const k = b.cols;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.abs(a.data[i * n + j] + (i === j ? jitter : 0));
    norm = Math.max(norm, s);
  }
  let worst = 0;
  for (let c = 0; c < k; c++) {
    let rn = 0;
    let xn = 0;
    for (let i = 0; i < n; i++) {
      let s = -b.data[i * k + c];
      for (let j = 0; j < n; j++) s += (a.data[i * n + j] + (i === j ? jitter : 0)) * x.data[j * k + c];
      rn = Math.max(rn, Math.abs(s));
      xn = Math.max(xn, Math.abs(x.data[i * k + c]));
    }
    worst = Math.max(worst, rn / (norm * xn));
  }
  return worst;
}

const relativeDifference = (x: Float64Array, y: Float64Array): number => {
  let d = 0;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    d = Math.max(d, Math.abs(x[i] - y[i]));
    m = Math.max(m, Math.abs(y[i]));
  }
  return d / m;
};

describe('positiveDefiniteSolve', () => {
  // 301 and 517: L and the columns in the kept scratch memory, every tail of the solves' and the
  // residual's steps; 1503: a memory of its own. 40 columns: each solved in turn, one residual pass for all.
  for (const [n, k] of [
    [301, 1],
    [517, 40],
    [1503, 1],
    [1234, 3],
  ]) {
    it(`solves a Gaussian kernel system of order ${n} with ${k} right-hand side(s) in mixed precision, to float64's backward error`, () => {
      withSeed((rng) => {
        const a = rbfGram(rng, n, { dims: 6, gamma: 0.2 });
        const b = randomMatrix(rng, n, k);
        const jitter = 0.1;
        const solution = positiveDefiniteSolve(a, b, { jitter });
        expect(solution.precision).toBe('mixed');
        expect(solution.refinements).toBeLessThanOrEqual(3);
        expect(backwardError(a, solution.x, b, jitter)).toBeLessThan(Number.EPSILON * Math.sqrt(n));
        const reference = choleskySolve(cholesky(a, { jitter }), b);
        expect(relativeDifference(solution.x.data, reference.data)).toBeLessThan(1e-10);
      });
    });
  }

  it('reads only the lower triangle, as cholesky does', () => {
    withSeed((rng) => {
      const n = 700;
      const a = rbfGram(rng, n, { dims: 4, gamma: 0.3 });
      const b = randomMatrix(rng, n, 1);
      // Random values above the diagonal, and a NaN there: never read, so not refused either.
      const upperScrambled = Float64Array.from(a.data);
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) upperScrambled[i * n + j] = rng.normal();
      upperScrambled[1] = Number.NaN;
      const solution = positiveDefiniteSolve({ rows: n, cols: n, data: upperScrambled }, b, { jitter: 0.05 });
      expect(solution.precision).toBe('mixed');
      expect(relativeDifference(solution.x.data, positiveDefiniteSolve(a, b, { jitter: 0.05 }).x.data)).toBeLessThan(1e-12);
    });
  });

  it('falls back to the float64 factorization where float32 cannot resolve the matrix (condition number ≈ 10¹²)', () => {
    withSeed((rng) => {
      // Close points on a line: the Gaussian kernel matrix's spectrum falls off so fast that float32
      // pivots hit its rounding level, while a tiny jitter keeps it positive definite in float64.
      const n = 800;
      const t = Array.from({ length: n }, (_, i) => i / n + 1e-4 * rng.uniform());
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = Math.exp(-((t[i] - t[j]) ** 2) / 0.5);
      const m = { rows: n, cols: n, data: a };
      const b = randomMatrix(rng, n, 1);
      const jitter = 1e-10;
      const solution = positiveDefiniteSolve(m, b, { jitter });
      expect(solution.precision).toBe('float64');
      expect(solution.x.data).toEqual(choleskySolve(cholesky(m, { jitter }), b).data);
    });
  });

  it('takes the float64 factorization when asked, and below order 128', () => {
    withSeed((rng) => {
      const a = rbfGram(rng, 300, { dims: 3, gamma: 0.5 });
      const b = randomMatrix(rng, 300, 2);
      expect(positiveDefiniteSolve(a, b, { jitter: 0.2, precision: 'float64' })).toMatchObject({ precision: 'float64', refinements: 0 });
      const small = rbfGram(rng, 100, { dims: 3, gamma: 0.5 });
      expect(positiveDefiniteSolve(small, randomMatrix(rng, 100, 1), { jitter: 0.2 }).precision).toBe('float64');
    });
  });

  it('takes the float64 path where the SIMD kernels are off (the float32 factor lives in WebAssembly memory)', () => {
    withSeed((rng) => {
      const a = rbfGram(rng, 200, { dims: 3, gamma: 0.5 });
      const b = randomMatrix(rng, 200, 2);
      setSimdKernels(false);
      try {
        const solution = positiveDefiniteSolve(a, b, { jitter: 0.2 });
        expect(solution.precision).toBe('float64');
        expect(solution.x.data).toEqual(choleskySolve(cholesky(a, { jitter: 0.2 }), b).data);
      } finally {
        setSimdKernels(true);
      }
    });
  });

  it('raises NotPositiveDefiniteError for an indefinite matrix (from the float64 fallback)', () => {
    const n = 500;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = i === 250 ? -1 : 2;
    expect(() => positiveDefiniteSolve({ rows: n, cols: n, data: a }, { rows: n, cols: 1, data: new Float64Array(n).fill(1) })).toThrow(NotPositiveDefiniteError);
  });

  it('rejects bad input with typed errors', () => {
    const a = { rows: 3, cols: 3, data: Float64Array.of(2, 0, 0, 0, 2, 0, 0, 0, 2) };
    const b = { rows: 3, cols: 1, data: Float64Array.of(1, 1, 1) };
    expect(() => positiveDefiniteSolve(a, { rows: 2, cols: 1, data: Float64Array.of(1, 1) })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => positiveDefiniteSolve({ rows: 3, cols: 2, data: new Float64Array(6) }, b)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => positiveDefiniteSolve(a, { rows: 3, cols: 1, data: Float64Array.of(1, Number.NaN, 1) })).toThrow(/finite/);
    // A non-finite entry in the triangle that is read, for the solve and for cholesky alike.
    const nanBelow = { rows: 3, cols: 3, data: Float64Array.of(2, 0, 0, 0, 2, 0, Number.NaN, 0, 2) };
    expect(() => positiveDefiniteSolve(nanBelow, b)).toThrow(/entry \(2, 0\) is NaN/);
    expect(() => cholesky(nanBelow)).toThrow(/entry \(2, 0\) is NaN/);
    // At an order the mixed path takes, where its norm of A is the check.
    const large = new Float64Array(300 * 300);
    for (let i = 0; i < 300; i++) large[i * 301] = 2;
    large[299 * 300 + 7] = Number.POSITIVE_INFINITY;
    expect(() => positiveDefiniteSolve({ rows: 300, cols: 300, data: large }, { rows: 300, cols: 1, data: new Float64Array(300) })).toThrow(/entry \(299, 7\) is Infinity/);
    expect(() => positiveDefiniteSolve(a, b, { jitter: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => positiveDefiniteSolve(a, b, { precision: 'half' as 'mixed' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => positiveDefiniteSolve(a, b, { maxRefinements: 1.5 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});

describe('blockedCholesky with float32 storage', () => {
  for (const n of [257, 331]) {
    it(`L Lᵀ = A + jI to float32's level at order ${n} (every column tail of the float32 update)`, () => {
      withSeed((rng) => {
        const a = rbfGram(rng, n, { dims: 5, gamma: 0.25 });
        const jitter = 0.5;
        const l = blockedCholesky(a.data, n, { jitter, floor: 0 }, 'float32');
        if (!l) return; // WebAssembly SIMD unavailable: nothing to check
        let diff = 0;
        let norm = 0;
        for (let i = 0; i < n; i++)
          for (let j = 0; j <= i; j++) {
            let s = 0;
            for (let k = 0; k <= j; k++) s += l[i * n + k] * l[j * n + k];
            const target = a.data[i * n + j] + (i === j ? jitter : 0);
            diff += (s - target) ** 2;
            norm += target ** 2;
          }
        const error = Math.sqrt(diff / norm);
        expect(error).toBeLessThan(1e-6);
        expect(error).toBeGreaterThan(1e-12); // it did round to float32 (the float64 path gives ~1e-16)
      });
    });
  }
});
