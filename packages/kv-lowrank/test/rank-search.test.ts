import { type Rng, matrix } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type ProjectionSet, type RankAllocation, allocateRanksByEnergy, allocationCost, fullCost, rankUnits, searchRanksByKL, uniformAllocation } from '../src/index.js';

/** A projection set with random decreasing spectra (identity bases): 2 layers × 2 heads × headDim 4. */
function spectraSet(rng: Rng): ProjectionSet {
  const group = () => {
    const spectrum = Float64Array.from({ length: 4 }, () => rng.uniform() * 10).sort().reverse();
    const basis = matrix(4, 4);
    for (let i = 0; i < 4; i++) basis.data[i * 5] = 1;
    return { basis, spectrum, totalEnergy: spectrum.reduce((a, b) => a + b, 0) };
  };
  const part = () => Array.from({ length: 2 }, () => [group(), group()]);
  return { numLayers: 2, kvHeads: 2, headDim: 4, keyInput: 'post-rope', key: { source: 'keys-post-rope', groupSize: 1, layers: part() }, value: { source: 'values', groupSize: 1, layers: part() } };
}

/** Σ over groups of captured relative energy: the objective of the energy search, by its definition. */
function capturedTotal(set: ProjectionSet, allocation: RankAllocation): number {
  let total = 0;
  for (const part of ['key', 'value'] as const) {
    set[part].layers.forEach((groups, l) =>
      groups.forEach((g, j) => {
        for (let i = 0; i < allocation[part][l][j]; i++) total += g.spectrum[i] / g.totalEnergy;
      }),
    );
  }
  return total;
}

describe('rank search by energy', () => {
  it('matches the brute-force optimum of captured energy under the budget', () =>
    withSeed((rng) => {
      const set = spectraSet(rng);
      expect(fullCost(set)).toBe(32);
      for (const ratio of [0.3, 0.5, 0.75]) {
        const allocation = allocateRanksByEnergy(set, { ratio });
        const budget = Math.floor(ratio * 32);
        expect(allocationCost(allocation)).toBe(budget);
        let best = -Infinity;
        const ranks = new Array(8).fill(1);
        const visit = (i: number, spent: number) => {
          if (i === 8) {
            const a = { key: [ranks.slice(0, 2), ranks.slice(2, 4)], value: [ranks.slice(4, 6), ranks.slice(6, 8)] };
            best = Math.max(best, capturedTotal(set, a));
            return;
          }
          for (let r = 1; r <= 4 && spent + r + (7 - i) <= budget; r++) {
            ranks[i] = r;
            visit(i + 1, spent + r);
          }
        };
        visit(0, 0);
        expect(capturedTotal(set, allocation)).toBeCloseTo(best, 12);
      }
    }));

  it('honours minRank, step and per-layer granularity', () =>
    withSeed((rng) => {
      const set = spectraSet(rng);
      const stepped = allocateRanksByEnergy(set, { ratio: 0.5, step: 2 });
      for (const part of [stepped.key, stepped.value]) for (const layer of part) for (const r of layer) expect([1, 3, 4]).toContain(r);
      const floor = allocateRanksByEnergy(set, { ratio: 0.5, minRank: 2 });
      for (const part of [floor.key, floor.value]) for (const layer of part) for (const r of layer) expect(r).toBeGreaterThanOrEqual(2);
      const perLayer = allocateRanksByEnergy(set, { ratio: 0.5, granularity: 'layer', normalize: 'absolute' });
      for (const part of [perLayer.key, perLayer.value]) for (const layer of part) expect(layer[0]).toBe(layer[1]);
      expect(allocationCost(perLayer)).toBeLessThanOrEqual(16);
      const bad: [() => unknown, string][] = [
        [() => allocateRanksByEnergy(set, { ratio: 0.1, minRank: 2 }), 'BUDGET_TOO_SMALL'],
        [() => allocateRanksByEnergy(set, { ratio: 1.5 }), 'INVALID_CONFIG'],
        [() => allocateRanksByEnergy(set, { ratio: 0.5, step: 0 }), 'INVALID_CONFIG'],
        [() => allocateRanksByEnergy(set, { ratio: 0.5, minRank: 0 }), 'INVALID_CONFIG'],
        [() => allocateRanksByEnergy(set, { ratio: 0.5, normalize: 'log' as 'absolute' }), 'INVALID_CONFIG'],
        [() => allocateRanksByEnergy(set, { ratio: 0.5, granularity: 'token' as 'layer' }), 'INVALID_CONFIG'],
        [() => uniformAllocation(set, 0), 'INVALID_CONFIG'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
    }));
});

describe('rank search by measured KL', () => {
  it('measures every unit at every level, then finds the brute-force best sum within the budget', () =>
    withSeed(async (rng) => {
      const set = spectraSet(rng);
      const units = rankUnits(set, 'layer');
      expect(units.length).toBe(4);
      // A known per-unit loss table over the candidate ranks 1, 2, 3 (4 = full, no loss).
      const table = units.map(() => [rng.uniform() * 3 + 2, rng.uniform() * 2 + 1, rng.uniform(), 0]);
      const evaluate = (a: RankAllocation) => units.reduce((s, u, i) => s + table[i][a[u.part][u.layer][0] - 1], 0);
      const seen: RankAllocation[] = [];
      const result = await searchRanksByKL(set, {
        ratio: 0.5,
        evaluate: (a) => {
          seen.push(a);
          return evaluate(a);
        },
      });
      expect(result.evaluations).toBe(4 * 3 + 1);
      expect(seen.length).toBe(13);
      expect(result.sensitivity.length).toBe(12);
      for (const s of result.sensitivity) expect(s.kl).toBeCloseTo(table[units.findIndex((u) => u.part === s.part && u.layer === s.layer)][s.rank - 1], 12);
      // Brute force: ranks r_i ∈ 1..4, cost Σ 2·r_i ≤ 16.
      let best = Infinity;
      for (let x = 0; x < 256; x++) {
        const r = [0, 1, 2, 3].map((i) => ((x >> (2 * i)) & 3) + 1);
        if (r.reduce((s, v) => s + 2 * v, 0) <= 16) best = Math.min(best, r.reduce((s, v, i) => s + table[i][v - 1], 0));
      }
      expect(result.predictedKL).toBeCloseTo(best, 12);
      expect(result.measuredKL).toBeCloseTo(best, 12);
      expect(allocationCost(result.allocation)).toBeLessThanOrEqual(16);
    }));

  it('refuses bad options and bad measurements', () =>
    withSeed(async (rng) => {
      const set = spectraSet(rng);
      await expect(searchRanksByKL(set, { ratio: 0.5, evaluate: () => NaN })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
      await expect(searchRanksByKL(set, { ratio: 0.5, evaluate: 3 as never })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
      await expect(searchRanksByKL(set, { ratio: 0.5, levels: [1.5], evaluate: () => 0 })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
      await expect(searchRanksByKL(set, { ratio: 0.1, evaluate: () => 0 })).rejects.toMatchObject({ code: 'BUDGET_TOO_SMALL' });
      const progress: number[] = [];
      await searchRanksByKL(set, { ratio: 0.5, granularity: 'group', levels: [0.5], evaluate: () => 0.1, onProgress: (done) => progress.push(done) });
      expect(progress).toEqual(Array.from({ length: 9 }, (_, i) => i + 1));
    }));
});
