import { BudgetTooSmallError, InvalidConfigError } from '@kvkit/tensor-core';
import type { ProjectionSet } from '../fit/projection-set.js';
import type { RankAllocation } from './allocation.js';
import { type RankGranularity, type RankUnit, allocationFromUnits, budgetFor, rankUnits } from './units.js';

export interface KLSearchOptions {
  /** Share of the uncompressed cache (numbers per token) to keep, in (0, 1]. */
  ratio: number;
  /**
   * Measures a candidate: the mean KL divergence of the model's next-token distribution with this
   * allocation against the uncompressed cache, on calibration text (the harness provides it).
   */
  evaluate: (allocation: RankAllocation) => number | Promise<number>;
  /** Ranks tried per unit, as shares of its dimension (default 1/8 … 7/8); full rank is always an option. */
  levels?: readonly number[];
  /** One rank per layer (default: few evaluations) or per head group. */
  granularity?: RankGranularity;
  /** Called after each evaluation (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface UnitSensitivity {
  part: 'key' | 'value';
  layer: number;
  groups: number[];
  rank: number;
  /** KL with only this unit compressed to `rank`. */
  kl: number;
}

export interface KLSearchResult {
  allocation: RankAllocation;
  /** Σ of the chosen units' individual KLs (the additive model the search optimizes). */
  predictedKL: number;
  /** KL of the chosen allocation, measured. */
  measuredKL: number;
  /** How many times `evaluate` ran. */
  evaluations: number;
  sensitivity: UnitSensitivity[];
}

const DEFAULT_LEVELS = [1 / 8, 2 / 8, 3 / 8, 4 / 8, 5 / 8, 6 / 8, 7 / 8];

/**
 * Spends a global budget by measured KL: compress one unit at a time to each candidate rank (the rest
 * stay full) and measure the KL of the model, then choose one rank per unit minimizing the sum of those
 * KLs within the budget (exact multiple-choice knapsack by dynamic programming), and measure the
 * result. units × levels + 1 evaluations, like the per-layer sensitivity searches of Palu and
 * MatryoshkaKV.
 */
export async function searchRanksByKL(set: ProjectionSet, options: KLSearchOptions): Promise<KLSearchResult> {
  const where = 'searchRanksByKL';
  if (typeof options.evaluate !== 'function') throw new InvalidConfigError(`${where}: evaluate must be a function (allocation) => KL`);
  const levels = options.levels ?? DEFAULT_LEVELS;
  if (!Array.isArray(levels) || levels.length === 0 || levels.some((x) => !(x > 0 && x < 1))) {
    throw new InvalidConfigError(`${where}: levels must be shares in (0, 1), got ${JSON.stringify(levels)}`);
  }
  const units = rankUnits(set, options.granularity ?? 'layer');
  const budget = budgetFor(units, options.ratio, where);
  const full = units.map((u) => u.maxRank);
  const options_ = units.map((u) => candidateRanks(u, levels));
  const total = options_.reduce((s, o) => s + o.length - 1, 0) + 1;
  let done = 0;
  const measure = async (ranks: number[]): Promise<number> => {
    const kl = await options.evaluate(allocationFromUnits(set, units, ranks));
    if (!Number.isFinite(kl)) throw new InvalidConfigError(`${where}: evaluate returned ${kl}; it must return a finite KL`);
    done += 1;
    options.onProgress?.(done, total);
    return kl;
  };
  const sensitivity: UnitSensitivity[] = [];
  const losses: number[][] = [];
  for (let i = 0; i < units.length; i++) {
    const unitLosses: number[] = [];
    for (const rank of options_[i]) {
      if (rank === full[i]) {
        unitLosses.push(0);
        continue;
      }
      const ranks = [...full];
      ranks[i] = rank;
      const kl = await measure(ranks);
      unitLosses.push(Math.max(kl, 0));
      sensitivity.push({ part: units[i].part, layer: units[i].layer, groups: units[i].groups, rank, kl });
    }
    losses.push(unitLosses);
  }
  const choice = chooseWithinBudget(units, options_, losses, budget, where);
  const ranks = choice.map((c, i) => options_[i][c]);
  const allocation = allocationFromUnits(set, units, ranks);
  const measuredKL = await measure(ranks);
  const predictedKL = choice.reduce((s, c, i) => s + losses[i][c], 0);
  return { allocation, predictedKL, measuredKL, evaluations: done, sensitivity };
}

/** Distinct ranks round(level·dim) (at least 1) below the unit's maximum, then the maximum. */
function candidateRanks(unit: RankUnit, levels: readonly number[]): number[] {
  const ranks = new Set<number>();
  for (const level of levels) {
    const r = Math.max(1, Math.round(level * unit.dim));
    if (r < unit.maxRank) ranks.add(r);
  }
  ranks.add(unit.maxRank);
  return [...ranks].sort((a, b) => a - b);
}

/**
 * Multiple-choice knapsack: one option per unit, total cost (rank × groups) ≤ budget, minimum total
 * loss. Costs are divided by their common divisor so the table stays small.
 */
export function chooseWithinBudget(units: readonly RankUnit[], ranks: readonly number[][], losses: readonly number[][], budget: number, where: string): number[] {
  const costs = units.map((u, i) => ranks[i].map((r) => r * u.groups.length));
  let divisor = 0;
  for (const list of costs) for (const c of list) divisor = gcd(divisor, c);
  const capacity = Math.floor(budget / divisor);
  const minimum = costs.reduce((s, list) => s + Math.min(...list), 0) / divisor;
  if (minimum > capacity) {
    throw new BudgetTooSmallError(`${where}: the budget of ${budget} numbers per token is below the smallest candidate (${minimum * divisor})`, {
      budget,
      needed: minimum * divisor,
    });
  }
  const n = units.length;
  // best[c] = least loss over the units so far with total cost exactly c; pick[i][c] = option used.
  let best = new Float64Array(capacity + 1).fill(Infinity);
  best[0] = 0;
  const pick = Array.from({ length: n }, () => new Int32Array(capacity + 1).fill(-1));
  for (let i = 0; i < n; i++) {
    const next = new Float64Array(capacity + 1).fill(Infinity);
    for (let c = 0; c <= capacity; c++) {
      if (best[c] === Infinity) continue;
      costs[i].forEach((cost, option) => {
        const to = c + cost / divisor;
        if (to > capacity) return;
        const loss = best[c] + losses[i][option];
        if (loss < next[to]) {
          next[to] = loss;
          pick[i][to] = option;
        }
      });
    }
    best = next;
  }
  let end = 0;
  for (let c = 0; c <= capacity; c++) if (best[c] < best[end] || (best[c] === best[end] && c > end)) end = c;
  const choice = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    choice[i] = pick[i][end];
    end -= costs[i][choice[i]] / divisor;
  }
  return choice;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
