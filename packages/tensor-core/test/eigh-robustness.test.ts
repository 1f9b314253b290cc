import { describe, expect, it } from 'vitest';
import { eigh, type Matrix } from '../src/linalg/index.js';
import type { Rng } from '../src/rng.js';
import { withSeed } from '../src/testing/index.js';

// Regression tests for eigh's convergence on inputs whose eigenvalues sit in a tight cluster at
// zero next to a few large ones (centered kernel matrices), checked against the definition in
// float64: ‖AV − VΛ‖_F/‖A‖_F and ‖VᵀV − I‖_F, both computed by direct loops here.

function frobenius(values: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * values[i];
  return Math.sqrt(s);
}

function checkDefinition(a: Matrix, label: string): void {
  const n = a.rows;
  const { values, vectors } = eigh(a);
  const v = vectors.data;
  const residual = new Float64Array(n * n);
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let av = 0;
      for (let k = 0; k < n; k++) av += a.data[i * n + k] * v[k * n + j];
      residual[i * n + j] = av - v[i * n + j] * values[j];
      let vtv = 0;
      for (let k = 0; k < n; k++) vtv += v[k * n + i] * v[k * n + j];
      gram[i * n + j] = vtv - (i === j ? 1 : 0);
    }
  const relativeResidual = frobenius(residual) / frobenius(a.data);
  const orthogonality = frobenius(gram);
  expect(Number.isFinite(relativeResidual), `${label}: residual is finite`).toBe(true);
  expect(relativeResidual, `${label}: ‖AV − VΛ‖/‖A‖`).toBeLessThan(1e-12);
  expect(orthogonality, `${label}: ‖VᵀV − I‖`).toBeLessThan(1e-11);
  for (let j = 1; j < n; j++) expect(values[j]).toBeLessThanOrEqual(values[j - 1]);
}

/** The doubly centered RBF Gram matrix H K H of `points` (n×d, row-major). */
function centeredRbfGram(points: Float64Array, n: number, d: number, gamma: number): Matrix {
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let sq = 0;
      for (let t = 0; t < d; t++) sq += (points[i * d + t] - points[j * d + t]) ** 2;
      k[i * n + j] = Math.exp(-gamma * sq);
    }
  const rowMeans = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) rowMeans[i] += k[i * n + j] / n;
    total += rowMeans[i] / n;
  }
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) k[i * n + j] += total - rowMeans[i] - rowMeans[j];
  // Exactly symmetric, as a caller would pass it.
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) {
      const mean = 0.5 * (k[i * n + j] + k[j * n + i]);
      k[i * n + j] = mean;
      k[j * n + i] = mean;
    }
  return { rows: n, cols: n, data: k };
}

/** Q diag(λ) Qᵀ with Q from Gram–Schmidt on a Gaussian matrix. */
function withSpectrum(rng: Rng, spectrum: number[]): Matrix {
  const n = spectrum.length;
  const q = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) q[i] = rng.normal();
  for (let j = 0; j < n; j++) {
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += q[i * n + j] * q[i * n + p];
      for (let i = 0; i < n; i++) q[i * n + j] -= dot * q[i * n + p];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * n + j] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q[i * n + j] /= norm;
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * spectrum[k] * q[j * n + k];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  return { rows: n, cols: n, data: a };
}

describe('eigh robustness', () => {
  it('converges on a centered RBF Gram matrix with a far outlier (eigenvalues spanning many orders)', () => {
    withSeed((rng) => {
      // Small gamma in 2-D: the kernel is very smooth, so the spectrum decays over ~15 orders into a
      // large cluster at zero (these settings stalled the QL iteration before the absolute floor).
      for (const [n, gamma] of [
        [200, 0.01],
        [300, 0.1],
      ] as const) {
        const d = 2;
        const points = new Float64Array(n * d);
        for (let i = 0; i < points.length; i++) points[i] = rng.normal();
        for (let t = 0; t < d; t++) points[(n - 1) * d + t] = 50 + rng.normal();
        checkDefinition(centeredRbfGram(points, n, d, gamma), `RBF n=${n} gamma=${gamma}`);
      }
    });
  });

  it('handles clustered and widely spread spectra', () => {
    withSeed((rng) => {
      const n = 60;
      const clustered = Array.from({ length: n }, (_, i) => (i < n / 2 ? 1 + 1e-13 * rng.normal() : 1e-15 * rng.normal()));
      checkDefinition(withSpectrum(rng, clustered), 'clustered');
      const spread = Array.from({ length: n }, (_, i) => (rng.uniform() < 0.5 ? -1 : 1) * 10 ** (-16 * (i / (n - 1))));
      checkDefinition(withSpectrum(rng, spread), 'spread over 16 orders');
      const zeros = Array.from({ length: n }, (_, i) => (i < 3 ? 10 ** i : 0));
      checkDefinition(withSpectrum(rng, zeros), 'rank 3');
    });
  });
});

describe('eigh robustness in panels and divide and conquer (order 480)', () => {
  const n = 480;
  const filled = (entry: (i: number, j: number) => number): Matrix => {
    const data = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[i * n + j] = entry(Math.min(i, j), Math.max(i, j));
    return { rows: n, cols: n, data };
  };

  it('handles structured matrices: zero, identity, repeated diagonal, all ones (rank 1), a tridiagonal one', () => {
    const zero = eigh(filled(() => 0));
    expect(zero.values.every((value) => value === 0)).toBe(true);
    checkDefinition(filled((i, j) => (i === j ? 1 : 0)), 'identity');
    checkDefinition(filled((i, j) => (i === j ? [2, -1, 2, 0.5][i % 4] : 0)), 'repeated diagonal');
    const ones = filled(() => 1);
    checkDefinition(ones, 'all ones');
    expect(Math.abs(eigh(ones).values[0] - n)).toBeLessThan(1e-10 * n);
    checkDefinition(filled((i, j) => (i === j ? 2 : j === i + 1 ? -1 : 0)), '1-2-1 (already tridiagonal: every reflection is τ = 0)');
  });

  it('keeps scaled and graded random matrices accurate (entries near 1e±200, rows over 12 orders)', () =>
    withSeed((rng) => {
      const base = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j <= i; j++) {
          const value = rng.normal();
          base[i * n + j] = value;
          base[j * n + i] = value;
        }
      const reference = eigh({ rows: n, cols: n, data: base });
      const largest = Math.abs(reference.values[0]);
      for (const scale of [1e200, 1e-200]) {
        // The definition's sums would overflow or underflow here: compare with the unscaled matrix's
        // decomposition (checked against the definition) instead.
        const { values, vectors } = eigh({ rows: n, cols: n, data: base.map((x) => x * scale) });
        for (let i = 0; i < n; i++) expect(Math.abs(values[i] / scale - reference.values[i]), `scaled by ${scale}: λ${i}`).toBeLessThan(1e-12 * largest);
        let worst = 0;
        for (let i = 0; i < n * n; i++) worst = Math.max(worst, Math.abs(vectors.data[i] - reference.vectors.data[i]));
        expect(worst, `scaled by ${scale}: vectors`).toBeLessThan(1e-8);
      }
      checkDefinition({ rows: n, cols: n, data: base }, 'unscaled');
      const grade = (i: number) => 10 ** (-12 * (i / (n - 1)));
      checkDefinition(filled((i, j) => base[i * n + j] * grade(i) * grade(j)), 'graded');
    }));
});
