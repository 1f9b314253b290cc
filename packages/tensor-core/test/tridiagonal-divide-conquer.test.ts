// The divide-and-conquer tridiagonal eigensolver (src/linalg/tridiagonal-divide-conquer.ts) against
// independent references: eigenvalues from Sturm-sequence bisection or closed forms, and the
// definition T z = λ z, zᵀz = I checked by direct loops, on random matrices and on the inputs that
// exercise each deflation (tiny couplings, close poles, zero couplings, repeated eigenvalues).
import { describe, expect, it } from 'vitest';
import { tridiagonalDivideConquer } from '../src/linalg/tridiagonal-divide-conquer.js';
import { withSeed } from '../src/testing/index.js';
import { bisectionEigenvalues } from './reference.js';

const EPSILON = Number.EPSILON;

interface Checked {
  values: Float64Array;
  /** max |T z_j − λ_j z_j| and max |ZᵀZ − I|, in units of n·ε(‖T‖) and n·ε. */
  residual: number;
  orthogonality: number;
}

function solveAndCheck(diagonal: number[], off: number[]): Checked {
  const n = diagonal.length;
  const values = Float64Array.from(diagonal);
  const couplings = Float64Array.from([...off, 0]);
  const z = tridiagonalDivideConquer(values, couplings, n);
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(diagonal[i]) + Math.abs(off[i - 1] ?? 0) + Math.abs(off[i] ?? 0));
  let residual = 0;
  for (let j = 0; j < n; j++)
    for (let i = 0; i < n; i++) {
      const tz = diagonal[i] * z[i * n + j] + (i > 0 ? off[i - 1] * z[(i - 1) * n + j] : 0) + (i < n - 1 ? off[i] * z[(i + 1) * n + j] : 0);
      residual = Math.max(residual, Math.abs(tz - values[j] * z[i * n + j]));
    }
  let orthogonality = 0;
  for (let a = 0; a < n; a++)
    for (let b = a; b < n; b++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += z[i * n + a] * z[i * n + b];
      orthogonality = Math.max(orthogonality, Math.abs(dot - (a === b ? 1 : 0)));
    }
  for (let j = 1; j < n; j++) expect(values[j]).toBeGreaterThanOrEqual(values[j - 1]);
  return { values, residual: residual / (n * EPSILON * Math.max(norm, Number.MIN_VALUE)), orthogonality: orthogonality / (n * EPSILON) };
}

/** Ascending eigenvalues agree with `expected` (any order) within n·ε‖T‖ times `factor`. */
function expectValues(values: Float64Array, expected: number[], scale: number, label: string, factor = 4): void {
  const sorted = [...expected].sort((x, y) => x - y);
  const n = values.length;
  for (let i = 0; i < n; i++) expect(Math.abs(values[i] - sorted[i]), `${label}: λ${i}`).toBeLessThanOrEqual(factor * n * EPSILON * scale);
}

describe('tridiagonalDivideConquer', () => {
  it('diagonalizes random tridiagonal matrices (orders around the leaf size and odd splits): Sturm eigenvalues, T z = λ z, ZᵀZ = I', () =>
    withSeed((rng) => {
      for (const n of [1, 2, 32, 33, 64, 65, 100, 257]) {
        const diagonal = Array.from({ length: n }, () => rng.normal());
        const off = Array.from({ length: n - 1 }, () => rng.normal());
        const { values, residual, orthogonality } = solveAndCheck(diagonal, off);
        const scale = Math.max(...diagonal.map(Math.abs)) + 2 * Math.max(0, ...off.map(Math.abs));
        expectValues(values, bisectionEigenvalues(diagonal, off), scale, `n = ${n}`);
        expect(residual, `n = ${n}: residual / (nε‖T‖)`).toBeLessThan(2);
        expect(orthogonality, `n = ${n}: |ZᵀZ − I| / (nε)`).toBeLessThan(2);
      }
    }));

  it('deflates close poles and tiny couplings: Wilkinson W+ (near-equal pairs) and glued Wilkinson blocks', () => {
    for (const n of [101, 201]) {
      const m = (n - 1) / 2;
      const diagonal = Array.from({ length: n }, (_, i) => Math.abs(i - m));
      const off = new Array(n - 1).fill(1);
      const { values, residual, orthogonality } = solveAndCheck(diagonal, off);
      expectValues(values, bisectionEigenvalues(diagonal, off), m + 2, `W${n}+`);
      expect(residual, `W${n}+ residual`).toBeLessThan(2);
      expect(orthogonality, `W${n}+ orthogonality`).toBeLessThan(2);
    }
    for (const glue of [1e-9, 1e-15]) {
      const blocks = 8;
      const diagonal: number[] = [];
      const off: number[] = [];
      for (let b = 0; b < blocks; b++)
        for (let i = 0; i < 21; i++) {
          diagonal.push(Math.abs(i - 10));
          if (b * 21 + i < blocks * 21 - 1) off.push(i === 20 ? glue : 1);
        }
      const { values, residual, orthogonality } = solveAndCheck(diagonal, off);
      expectValues(values, bisectionEigenvalues(diagonal, off), 12, `glued by ${glue}`);
      expect(residual, `glued by ${glue}: residual`).toBeLessThan(2);
      expect(orthogonality, `glued by ${glue}: orthogonality`).toBeLessThan(2);
    }
  });

  it('matches closed forms: the 1-2-1 matrix (2 − 2cos(kπ/(n+1))) and a diagonal one (its entries, unit vectors)', () => {
    const n = 150;
    const { values, residual, orthogonality } = solveAndCheck(new Array(n).fill(2), new Array(n - 1).fill(-1));
    expectValues(values, Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1))), 4, '1-2-1');
    expect(residual).toBeLessThan(2);
    expect(orthogonality).toBeLessThan(2);

    // Zero couplings, repeated entries: every merge deflates everything (ρ = 0).
    const diagonal = Array.from({ length: 90 }, (_, i) => [3, -1, 3, 0.5][i % 4]);
    const zeros = solveAndCheck(diagonal, new Array(89).fill(0));
    expectValues(zeros.values, diagonal, 3, 'diagonal', 0);
    expect(zeros.residual).toBe(0);
    expect(zeros.orthogonality).toBe(0);
  });

  it('keeps a graded matrix (entries over 10 orders) and a fast-decaying one accurate', () => {
    const n = 200;
    for (const [label, diagonal, off] of [
      ['graded', Array.from({ length: n }, (_, i) => 10 ** (-i / 20)), Array.from({ length: n - 1 }, (_, i) => 10 ** (-(i + 0.5) / 20))],
      ['decaying', Array.from({ length: n }, (_, i) => Math.exp(-i / 10)), Array.from({ length: n - 1 }, (_, i) => 0.3 * Math.exp(-i / 10))],
    ] as const) {
      const { values, residual, orthogonality } = solveAndCheck([...diagonal], [...off]);
      expectValues(values, bisectionEigenvalues(diagonal, off), 2, label);
      expect(residual, `${label}: residual`).toBeLessThan(2);
      expect(orthogonality, `${label}: orthogonality`).toBeLessThan(2);
    }
  });
});
