import { matrix } from '@kvkit/tensor-core';
import { describe, expect, it } from 'vitest';
import { trustworthiness, tsne } from '../src/index.js';
import { boston, fixtures } from './datasets.js';

describe('t-SNE (exact)', () => {
  it('embeds Boston as trustworthily as scikit-learn\'s TSNE (trustworthiness, 5 neighbours)', () => {
    const { x } = boston();
    const embedding = tsne(x, { perplexity: fixtures.tsneBoston.perplexity, iterations: 500, seed: 0 });
    const ours = trustworthiness(x, embedding, fixtures.tsneBoston.neighbors);
    const reference = Math.min(...fixtures.tsneBoston.methods.flatMap((m: { trustworthiness: number[] }) => m.trustworthiness));
    expect(ours).toBeGreaterThan(reference - 0.01);
  });

  it('trustworthiness is 1 for an isometric embedding and drops for a random one', () => {
    const pts = matrix(40, 2, Array.from({ length: 80 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 7))));
    const rotated = matrix(40, 2, Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? -pts.data[i + 1] : pts.data[i - 1])));
    expect(trustworthiness(pts, rotated, 5)).toBeCloseTo(1, 12);
    const scrambled = matrix(40, 2, Array.from({ length: 80 }, (_, i) => Math.cos(i * 12.9898) * 43758.5453 % 1));
    expect(trustworthiness(pts, scrambled, 5)).toBeLessThan(0.8);
  });

  it('bad input: perplexity not below n, too few points', () => {
    expect(() => tsne(matrix(10, 2, Array.from({ length: 20 }, (_, i) => i)), { perplexity: 10 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => tsne(matrix(3, 2))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
