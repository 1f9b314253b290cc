import { matrix } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { barnesHutGradient, type SparseAffinities, sparseAffinities } from '../src/embedding/barnes-hut-tsne.js';
import { barnesHutTsne, trustworthiness } from '../src/index.js';
import { boston, fixtures } from './datasets.js';

/** The t-SNE gradient by its definition, O(n²), in float64: 4 Σⱼ (e·pᵢⱼ − qᵢⱼ/Z) wᵢⱼ (yᵢ − yⱼ). */
function directGradient(p: Float64Array, y: Float64Array, n: number, exaggeration: number): Float64Array {
  const w = new Float64Array(n * n);
  let z = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      w[i * n + j] = 1 / (1 + (y[2 * i] - y[2 * j]) ** 2 + (y[2 * i + 1] - y[2 * j + 1]) ** 2);
      z += w[i * n + j];
    }
  const g = new Float64Array(2 * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const factor = 4 * (exaggeration * p[i * n + j] - w[i * n + j] / z) * w[i * n + j];
      g[2 * i] += factor * (y[2 * i] - y[2 * j]);
      g[2 * i + 1] += factor * (y[2 * i + 1] - y[2 * j + 1]);
    }
  return g;
}

function dense(p: SparseAffinities, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let t = p.offsets[i]; t < p.offsets[i + 1]; t++) out[i * n + p.columns[t]] += p.values[t];
  return out;
}

function relative(a: Float64Array, b: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe('Barnes–Hut t-SNE', () => {
  it('sparse affinities are symmetric, sum to 1, and the quadtree gradient matches the O(n²) definition', () => {
    withSeed((rng) => {
      const n = 150;
      const x = matrix(n, 4, Array.from({ length: 4 * n }, () => rng.normal()));
      const p = sparseAffinities(x, 10, 30);
      const pd = dense(p, n);
      let total = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          total += pd[i * n + j];
          expect(pd[i * n + j]).toBeCloseTo(pd[j * n + i], 15);
        }
      expect(total).toBeCloseTo(1, 12);
      // Spread-out embedding with a few exactly coincident points (shared quadtree leaves).
      const y = Float64Array.from({ length: 2 * n }, () => 5 * rng.normal());
      for (let i = 0; i < 6; i++) {
        y[2 * (n - 1 - i)] = y[2 * i];
        y[2 * (n - 1 - i) + 1] = y[2 * i + 1];
      }
      const gradient = new Float64Array(2 * n);
      const scratch = new Float64Array(2 * n);
      for (const exaggeration of [1, 12]) {
        const reference = directGradient(pd, y, n, exaggeration);
        barnesHutGradient(p, y, n, 0, exaggeration, gradient, scratch);
        expect(relative(gradient, reference)).toBeLessThan(1e-12);
        barnesHutGradient(p, y, n, 0.5, exaggeration, gradient, scratch);
        expect(relative(gradient, reference)).toBeLessThan(0.05);
      }
    });
  });

  it("embeds Boston with a KL divergence and trustworthiness close to scikit-learn's barnes_hut TSNE", () => {
    const { x } = boston();
    const reference = fixtures.tsneBarnesHutBoston as { perplexity: number; theta: number; neighbors: number; runs: { klDivergence: number; trustworthiness: number }[] };
    const { embedding, klDivergence } = barnesHutTsne(x, { perplexity: reference.perplexity, theta: reference.theta, seed: 0 });
    const meanKl = reference.runs.reduce((s, r) => s + r.klDivergence, 0) / reference.runs.length;
    const worstTrust = Math.min(...reference.runs.map((r) => r.trustworthiness));
    expect(embedding.rows).toBe(x.rows);
    expect(Number.isFinite(klDivergence)).toBe(true);
    expect(Math.abs(klDivergence - meanKl) / meanKl).toBeLessThan(0.1);
    expect(trustworthiness(x, embedding, reference.neighbors)).toBeGreaterThan(worstTrust - 0.01);
  });

  it('bad input: perplexity, dimensions, theta, iterations, too few points', () => {
    const x = matrix(10, 2, Array.from({ length: 20 }, (_, i) => Math.sin(i)));
    const invalid = expect.objectContaining({ code: 'INVALID_CONFIG' });
    expect(() => barnesHutTsne(x, { perplexity: 10 })).toThrow(invalid);
    expect(() => barnesHutTsne(x, { perplexity: 0 })).toThrow(invalid);
    expect(() => barnesHutTsne(x, { perplexity: 0.2 })).toThrow(invalid);
    expect(() => barnesHutTsne(x, { perplexity: 3, nComponents: 3 })).toThrow(invalid);
    expect(() => barnesHutTsne(x, { perplexity: 3, theta: -0.1 })).toThrow(invalid);
    expect(() => barnesHutTsne(x, { perplexity: 3, iterations: 100 })).toThrow(invalid);
    expect(() => barnesHutTsne(x, { perplexity: 3, init: 'spectral' as 'pca' })).toThrow(invalid);
    expect(() => barnesHutTsne(matrix(3, 2))).toThrow(invalid);
  });
});
