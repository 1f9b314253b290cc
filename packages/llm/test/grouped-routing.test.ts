// DeepSeek's group-limited choice (grouped-routing.ts) against its definition on fresh random scores:
// the experts of each row's `kept` best groups as they were, the others far below every kept one.
import { TensorScope, tensor } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { keepBestGroups } from '../src/grouped-routing.js';

/** The kept groups of one row by the definition: each group's score (its max, or its two best summed), the `kept` highest. */
function keptGroups(row: Float32Array, count: number, kept: number, score: 'max' | 'top-two-sum'): Set<number> {
  const size = row.length / count;
  const scores = Array.from({ length: count }, (_, g) => {
    const members = Array.from(row.subarray(g * size, (g + 1) * size)).sort((a, b) => b - a);
    return score === 'max' ? members[0] : members[0] + members[1];
  });
  return new Set(scores.map((s, g) => [s, g] as const).sort((a, b) => b[0] - a[0]).slice(0, kept).map(([, g]) => g));
}

describe('keepBestGroups', () => {
  for (const [score, count, kept, experts] of [['top-two-sum', 8, 4, 64], ['max', 4, 2, 16], ['top-two-sum', 4, 1, 8]] as const) {
    it(`${score}: ${kept} of ${count} groups of ${experts} experts, scores of both signs`, () =>
      withSeed((rng) => {
        const rows = 6;
        const values = Float32Array.from({ length: rows * experts }, () => rng.normal());
        const scope = new TensorScope();
        try {
          const out = keepBestGroups(scope.track(tensor(values, [rows, experts], { dtype: 'f32' })), { count, kept, score }, scope).readFloat32Sync();
          for (let r = 0; r < rows; r++) {
            const groups = keptGroups(values.subarray(r * experts, (r + 1) * experts), count, kept, score);
            for (let e = 0; e < experts; e++) {
              const [got, was] = [out[r * experts + e], values[r * experts + e]];
              if (groups.has(Math.floor(e / (experts / count)))) expect(got, `row ${r} expert ${e} kept`).toBe(was);
              else expect(got, `row ${r} expert ${e} left out`).toBeLessThan(-1e29);
            }
          }
        } finally {
          scope.dispose();
        }
      }));
  }
});
