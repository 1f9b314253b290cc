import { InvalidConfigError } from '@kvkit/tensor-core';
import { numberInRange } from '../budget.js';
import { markProtected, protectedCount, type Protection } from './protection.js';
import { rankByScore } from './top-k.js';

/**
 * How a layer's budget splits over its KV heads. `uniform`: every head keeps the layer budget.
 * `adaptive` (Ada-KV, Feng et al., 2024): the layer keeps kvHeads × budget tokens in total, chosen
 * by score across heads, so a head with concentrated attention gives slots to a head with spread
 * attention; each head first gets `floor` × budget (Ada-KV's safeguard) and its protected tokens.
 * Storage is ragged per head, so the saving is real (kvpress masks instead).
 */
export type HeadAllocation = 'uniform' | 'adaptive';

export function validateHeadAllocation(value: string, where: string): HeadAllocation {
  if (value !== 'uniform' && value !== 'adaptive') throw new InvalidConfigError(`${where}: heads must be uniform or adaptive, got ${value}`);
  return value;
}

export function uniformHeadBudgets(counts: readonly number[], layerBudget: number): number[] {
  return counts.map((c) => Math.min(c, layerBudget));
}

/** Ada-KV-style budgets per head; Σ ≤ kvHeads × layerBudget, each ≤ its count. */
export function adaptiveHeadBudgets(scores: readonly ArrayLike<number>[], layerBudget: number, protection: Protection, floor = 0.2): number[] {
  numberInRange(floor, 0, 1, 'adaptive head budgets', 'floor');
  const heads = scores.length;
  const counts = scores.map((s) => s.length);
  let remaining = Math.min(heads * layerBudget, counts.reduce((a, b) => a + b, 0));
  const budgets = counts.map((count) => Math.min(count, Math.max(protectedCount(count, layerBudget, protection), Math.ceil(floor * layerBudget))));
  remaining -= budgets.reduce((a, b) => a + b, 0);
  if (remaining <= 0) return budgets;
  // Each head's candidates beyond what it already has, best first; the layer takes the best overall.
  const queues = scores.map((s, h) => {
    const marks = new Uint8Array(counts[h]);
    markProtected(counts[h], layerBudget, protection, marks);
    const ranked = rankByScore(s, marks);
    const already = budgets[h] - protectedCount(counts[h], layerBudget, protection);
    return { ranked, next: Math.max(0, already), values: s };
  });
  while (remaining > 0) {
    let best = -1;
    let bestValue = -Infinity;
    for (let h = 0; h < heads; h++) {
      const q = queues[h];
      if (q.next >= q.ranked.length) continue;
      const raw = q.values[q.ranked[q.next]];
      const value = Number.isNaN(raw) ? -Infinity : raw;
      if (best < 0 || value > bestValue) {
        best = h;
        bestValue = value;
      }
    }
    if (best < 0) break;
    queues[best].next++;
    budgets[best]++;
    remaining--;
  }
  return budgets;
}
