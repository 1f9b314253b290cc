import { InvalidConfigError } from '@kvkit/tensor-core';
import { nonNegativeInteger } from '../budget.js';

/**
 * Tokens every head keeps whatever their score: the first `sinks` tokens (attention sinks, Xiao et
 * al., 2024) and the `recent` most recent ones. `recent` is a token count, or a fraction (0, 1) of
 * the head's budget (H2O's split between heavy hitters and recent tokens). When the budget is
 * smaller than both, sinks win and the window shrinks to what is left, so the budget always holds.
 */
export interface Protection {
  sinks: number;
  recent: number;
}

export function validateProtection(protection: Partial<Protection>, where: string, defaults: Protection): Protection {
  const recent = protection.recent ?? defaults.recent;
  if (!(Number.isInteger(recent) && recent >= 0) && !(recent > 0 && recent < 1)) {
    throw new InvalidConfigError(`${where}: recent must be a whole number of tokens >= 0 or a fraction of the budget in (0, 1), got ${recent}`, { recent });
  }
  return { sinks: nonNegativeInteger(protection.sinks ?? defaults.sinks, where, 'sinks'), recent };
}

/** The recent window in tokens for a head with room for `budget`. */
export function recentTokens(protection: Protection, budget: number): number {
  return protection.recent < 1 && protection.recent > 0 ? Math.floor(protection.recent * budget) : protection.recent;
}

/** Marks the protected storage indices of a head holding `count` tokens with room for `budget`. Returns how many. */
export function markProtected(count: number, budget: number, protection: Protection, marks: Uint8Array): number {
  const sinks = Math.min(protection.sinks, budget, count);
  for (let i = 0; i < sinks; i++) marks[i] = 1;
  const recent = Math.min(recentTokens(protection, budget), budget - sinks, count - sinks);
  for (let i = count - recent; i < count; i++) marks[i] = 1;
  return sinks + recent;
}

/** How many tokens `markProtected` would protect. */
export function protectedCount(count: number, budget: number, protection: Protection): number {
  const sinks = Math.min(protection.sinks, budget, count);
  return sinks + Math.min(recentTokens(protection, budget), budget - sinks, count - sinks);
}
