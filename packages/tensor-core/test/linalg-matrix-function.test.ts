import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../src/errors.js';
import { eigh, type Matrix, symmetricMatrixFunction } from '../src/linalg/index.js';
import type { Rng } from '../src/rng.js';
import { withSeed } from '../src/testing/index.js';
import { naiveMatmul } from './reference.js';
import { randomSymmetric, rbfGram as randomRbfGram } from './random-matrices.js';

// References: f(A) summed from eigh's pairs by direct loops (Σⱼ f(λⱼ) vⱼvⱼᵀ), and, independently of
// any eigendecomposition, polynomials of A by naive products (f(λ) = λ² − cλ + d gives A² − cA + dI).

/** exp(−‖xᵢ − xⱼ‖²/2) of n Gaussian points in 3 dimensions: positive semi-definite, its spectrum decaying fast (Nyström's K_CC). */
const rbfGram = (rng: Rng, n: number): Matrix => randomRbfGram(rng, n, { dims: 3, gamma: 0.5 });

/** Σⱼ f(λⱼ) vⱼvⱼᵀ from eigh's pairs, by direct loops. */
function fromEigenpairs(a: Matrix, f: (value: number) => number): Float64Array {
  const n = a.rows;
  const { values, vectors } = eigh(a);
  const out = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const weight = f(values[j]);
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) out[r * n + c] += weight * vectors.data[r * n + j] * vectors.data[c * n + j];
  }
  return out;
}

function maxAbs(values: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < values.length; i++) largest = Math.max(largest, Math.abs(values[i]));
  return largest;
}

function maxAbsDifference(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < x.length; i++) largest = Math.max(largest, Math.abs(x[i] - y[i]));
  return largest;
}

function expectExactlySymmetric(m: Matrix): void {
  const n = m.rows;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (m.data[i * n + j] !== m.data[j * n + i]) expect.fail(`entry (${i}, ${j}) differs from (${j}, ${i})`);
}

describe('symmetricMatrixFunction', () => {
  // 1–17: QL; 100, 200: divide and conquer, blocked back-transformation; 460: panels in the tridiagonalization.
  for (const n of [1, 2, 17, 100, 200, 460]) {
    it(`gives A² − 3A + 2I for f(λ) = λ² − 3λ + 2 (negative weights too) at n = ${n}`, () => {
      withSeed((rng) => {
        const a = randomSymmetric(rng, n);
        const result = symmetricMatrixFunction(a, (value) => value * value - 3 * value + 2);
        expect([result.rows, result.cols]).toEqual([n, n]);
        const expected = naiveMatmul(a.data, a.data, n, n, n);
        for (let i = 0; i < n * n; i++) expected[i] -= 3 * a.data[i];
        for (let i = 0; i < n; i++) expected[i * n + i] += 2;
        expect(maxAbsDifference(result.data, expected) / maxAbs(expected)).toBeLessThan(1e-13 * Math.max(n, 10));
        expectExactlySymmetric(result);
      });
    });

    it(`matches Σ f(λⱼ) vⱼvⱼᵀ from eigh for the floored inverse square root of an RBF Gram matrix at n = ${n}`, () => {
      withSeed((rng) => {
        const a = rbfGram(rng, n);
        const f = (value: number) => Math.max(value, 1e-12) ** -0.5;
        const result = symmetricMatrixFunction(a, f);
        const expected = fromEigenpairs(a, f);
        // Entries up to 1e6 from the floored eigenvalues: both sides carry rounding of about ε·1e12·n.
        expect(maxAbsDifference(result.data, expected) / maxAbs(expected)).toBeLessThan(1e-9);
        expectExactlySymmetric(result);
      });
    });
  }

  it('gives X with X·A·X = I for the inverse square root of a well-conditioned SPD matrix', () => {
    withSeed((rng) => {
      const n = 150;
      const a = randomSymmetric(rng, n);
      for (let i = 0; i < n; i++) a.data[i * n + i] += 2 * Math.sqrt(n) + 1; // eigenvalues ≥ 1
      const x = symmetricMatrixFunction(a, (value) => value ** -0.5);
      const xax = naiveMatmul(naiveMatmul(x.data, a.data, n, n, n), x.data, n, n, n);
      for (let i = 0; i < n; i++) xax[i * n + i] -= 1;
      expect(maxAbs(xax)).toBeLessThan(1e-12);
    });
  });

  it('drops the pairs where f is zero (a spectral projector is idempotent)', () => {
    withSeed((rng) => {
      const n = 120;
      const a = randomSymmetric(rng, n);
      const p = symmetricMatrixFunction(a, (value) => (value > 0 ? 1 : 0));
      expect(maxAbsDifference(naiveMatmul(p.data, p.data, n, n, n), p.data)).toBeLessThan(1e-12);
      let trace = 0;
      for (let i = 0; i < n; i++) trace += p.data[i * n + i];
      expect(Math.abs(trace - Math.round(trace))).toBeLessThan(1e-10);
      expect(symmetricMatrixFunction(a, () => 0).data.every((value) => value === 0)).toBe(true);
    });
  });

  it('takes the empty matrix', () => {
    const result = symmetricMatrixFunction({ rows: 0, cols: 0, data: new Float64Array(0) }, (value) => value);
    expect([result.rows, result.cols, result.data.length]).toEqual([0, 0, 0]);
  });

  it('rejects a non-finite f(λ) and an asymmetric matrix', () => {
    const a: Matrix = { rows: 2, cols: 2, data: Float64Array.from([2, 1, 1, 2]) };
    expect(() => symmetricMatrixFunction(a, (value) => (value < 2 ? Number.POSITIVE_INFINITY : Number.NaN))).toThrow(InvalidConfigError);
    expect(() => symmetricMatrixFunction({ rows: 2, cols: 2, data: Float64Array.from([1, 2, 3, 4]) }, (value) => value)).toThrow(InvalidConfigError);
  });
});
