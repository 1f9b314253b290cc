import { type Matrix, matmulMatrix, matrix } from '@kvkit/tensor-core';
import { assertClose } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { graphKernel, KernelKMeans, precomputed } from '../src/index.js';

/** Σ_{k<40} (cM)^k/k!: the matrix exponential by its series (small, well-scaled matrices). */
function expSeries(m: Matrix, c: number): Float64Array {
  const n = m.rows;
  let term: Matrix = { rows: n, cols: n, data: Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)) };
  const sum = Float64Array.from(term.data);
  for (let k = 1; k < 40; k++) {
    term = matmulMatrix(term, m);
    term = { ...term, data: term.data.map((v) => (v * c) / k) };
    for (let i = 0; i < sum.length; i++) sum[i] += term.data[i];
  }
  return sum;
}

// A path 0–1–2–3 with one heavier edge.
const a = matrix(4, 4, [0, 1, 0, 0, 1, 0, 2, 0, 0, 2, 0, 1, 0, 0, 1, 0]);
const l = matrix(4, 4, [1, -1, 0, 0, -1, 3, -2, 0, 0, -2, 3, -1, 0, 0, -1, 1]);

describe('graph kernels', () => {
  it('heat and communicability equal their exponential series; the regularized Laplacian inverts I + tL', () => {
    assertClose(graphKernel(a, 'heat', { t: 0.7 }).data, expSeries(l, -0.7), 1e-12, 'heat');
    assertClose(graphKernel(a, 'communicability', { t: 0.3 }).data, expSeries(a, 0.3), 1e-12, 'communicability');
    const reg = graphKernel(a, 'regularizedLaplacian', { t: 2 });
    const product = matmulMatrix(reg, { ...l, data: l.data.map((v, i) => 2 * v + (i % 5 === 0 ? 1 : 0)) });
    assertClose(product.data, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], 1e-12, '(I + tL)⁻¹(I + tL)');
  });

  it('commute time is the pseudo-inverse of L: L·L⁺·L = L and L⁺ has zero row sums', () => {
    const plus = graphKernel(a, 'commuteTime');
    assertClose(matmulMatrix(matmulMatrix(l, plus), l).data, l.data, 1e-12, 'L L⁺ L');
    for (let i = 0; i < 4; i++) expect(Math.abs(plus.data.slice(i * 4, i * 4 + 4).reduce((s, v) => s + v, 0))).toBeLessThan(1e-12);
  });

  it('kernel k-means on the logarithmic heat kernel recovers two cliques joined by one edge', () => {
    const n = 12;
    const adj = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && (i < 6) === (j < 6)) adj[i * n + j] = 1;
    adj[5 * n + 6] = adj[6 * n + 5] = 1;
    const k = graphKernel(matrix(n, n, adj), 'heat', { t: 1, logarithmic: true });
    const kernel = precomputed(k, { checkPsd: false });
    const labels = new KernelKMeans({ kernel, nClusters: 2, nInit: 3 }).fit(kernel.points).labels as Int32Array;
    for (let i = 1; i < 6; i++) expect(labels[i]).toBe(labels[0]);
    for (let i = 7; i < 12; i++) expect(labels[i]).toBe(labels[6]);
    expect(labels[0]).not.toBe(labels[6]);
  });

  it('bad input: negative weights, non-square, log of commute time, disconnected log kernel', () => {
    expect(() => graphKernel(matrix(2, 2, [0, -1, -1, 0]), 'heat')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => graphKernel(matrix(2, 3), 'heat')).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => graphKernel(a, 'commuteTime', { logarithmic: true })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => graphKernel(matrix(2, 2), 'regularizedLaplacian', { logarithmic: true })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
