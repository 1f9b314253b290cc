import { InvalidConfigError } from '@kvkit/tensor-core';
import type { ProjectionSet } from '../fit/projection-set.js';
import type { RankAllocation } from './allocation.js';

/** How finely a rank search assigns ranks: one per head group, or one per layer (shared by its groups). */
export type RankGranularity = 'group' | 'layer';

/** One decision of a rank search: the rank of some groups of one part of one layer. */
export interface RankUnit {
  part: 'key' | 'value';
  layer: number;
  groups: number[];
  /** Rank that loses nothing (the group dimension). */
  dim: number;
  /** Largest rank the fitted bases allow (≤ dim when they were truncated). */
  maxRank: number;
}

export function rankUnits(set: ProjectionSet, granularity: RankGranularity): RankUnit[] {
  if (granularity !== 'group' && granularity !== 'layer') throw new InvalidConfigError(`granularity must be 'group' or 'layer', got ${String(granularity)}`);
  const units: RankUnit[] = [];
  for (const part of ['key', 'value'] as const) {
    const dim = set[part].groupSize * set.headDim;
    set[part].layers.forEach((groups, layer) => {
      const indices = groups.map((_, j) => j);
      const sets = granularity === 'layer' ? [indices] : indices.map((j) => [j]);
      for (const members of sets) units.push({ part, layer, groups: members, dim, maxRank: Math.min(...members.map((j) => groups[j].basis.cols)) });
    });
  }
  return units;
}

/** The allocation that gives unit i rank ranks[i]. */
export function allocationFromUnits(set: ProjectionSet, units: readonly RankUnit[], ranks: readonly number[]): RankAllocation {
  const allocation: RankAllocation = {
    key: set.key.layers.map((groups) => groups.map(() => 0)),
    value: set.value.layers.map((groups) => groups.map(() => 0)),
  };
  units.forEach((unit, i) => {
    for (const j of unit.groups) allocation[unit.part][unit.layer][j] = ranks[i];
  });
  return allocation;
}

/** The budget in numbers per token for a share `ratio` of the full cache. */
export function budgetFor(units: readonly RankUnit[], ratio: number, where: string): number {
  if (!(ratio > 0 && ratio <= 1)) throw new InvalidConfigError(`${where}: ratio must be in (0, 1], got ${ratio}`);
  const full = units.reduce((sum, u) => sum + u.dim * u.groups.length, 0);
  return Math.floor(ratio * full);
}
