import { BudgetTooSmallError, InvalidConfigError } from '@kvkit/tensor-core';
import type { ProjectionSet } from '../fit/projection-set.js';
import type { RankAllocation } from './allocation.js';
import { type RankGranularity, allocationFromUnits, budgetFor, rankUnits } from './units.js';

export interface EnergySearchOptions {
  /** Share of the uncompressed cache (numbers per token, keys and values together) to keep, in (0, 1]. */
  ratio: number;
  /** One rank per head group (default) or per layer. */
  granularity?: RankGranularity;
  /**
   * 'relative' (default): each group's spectrum is divided by its total energy, so every group counts
   * equally whatever its scale; 'absolute': raw energies (large-norm layers get more rank).
   */
  normalize?: 'relative' | 'absolute';
  /** Smallest rank of any group (default 1). */
  minRank?: number;
  /** Ranks move in multiples of `step` directions (default 1; 8 or 16 suit vectorized kernels). */
  step?: number;
}

/**
 * Spends a global budget of latent dimensions across layers, groups, keys and values by
 * reconstruction energy: starting from `minRank`, repeatedly give `step` more directions to the unit
 * whose next directions carry the most energy per number stored. Spectra are sorted, so marginal gains
 * only decrease and this greedy choice maximizes the total captured energy (up to the last step that
 * does not fit).
 */
export function allocateRanksByEnergy(set: ProjectionSet, options: EnergySearchOptions): RankAllocation {
  const where = 'allocateRanksByEnergy';
  const normalize = options.normalize ?? 'relative';
  if (normalize !== 'relative' && normalize !== 'absolute') throw new InvalidConfigError(`${where}: normalize must be 'relative' or 'absolute'`);
  const minRank = options.minRank ?? 1;
  const step = options.step ?? 1;
  if (!Number.isInteger(minRank) || minRank < 1) throw new InvalidConfigError(`${where}: minRank must be an integer >= 1, got ${minRank}`);
  if (!Number.isInteger(step) || step < 1) throw new InvalidConfigError(`${where}: step must be an integer >= 1, got ${step}`);
  const units = rankUnits(set, options.granularity ?? 'group');
  const budget = budgetFor(units, options.ratio, where);
  const ranks = units.map((u) => Math.min(minRank, u.maxRank));
  let spent = units.reduce((sum, u, i) => sum + ranks[i] * u.groups.length, 0);
  if (spent > budget) {
    throw new BudgetTooSmallError(`${where}: ratio ${options.ratio} allows ${budget} numbers per token, but rank ${minRank} everywhere needs ${spent}`, {
      budget,
      needed: spent,
    });
  }
  const energy = units.map((u) =>
    u.groups.map((j) => {
      const g = set[u.part].layers[u.layer][j];
      const scale = normalize === 'relative' && g.totalEnergy > 0 ? 1 / g.totalEnergy : 1;
      return Float64Array.from(g.spectrum, (x) => x * scale);
    }),
  );
  for (;;) {
    let best = -1;
    let bestGain = -Infinity;
    let bestNext = 0;
    units.forEach((u, i) => {
      const next = Math.min(ranks[i] + step, u.maxRank);
      if (next === ranks[i] || spent + (next - ranks[i]) * u.groups.length > budget) return;
      let gain = 0;
      for (const spectrum of energy[i]) for (let r = ranks[i]; r < next; r++) gain += spectrum[r];
      gain /= (next - ranks[i]) * u.groups.length;
      if (gain > bestGain) {
        bestGain = gain;
        best = i;
        bestNext = next;
      }
    });
    if (best < 0) break;
    spent += (bestNext - ranks[best]) * units[best].groups.length;
    ranks[best] = bestNext;
  }
  return allocationFromUnits(set, units, ranks);
}
