import { InvalidConfigError } from '@kvkit/tensor-core';

/**
 * A token budget per KV head. A number in (0, 1] is a fraction of the tokens seen so far (0.25 keeps
 * a quarter of the context as it grows; 1 keeps everything); an integer greater than 1 is an
 * absolute number of tokens.
 */
export type Budget = number;

/** Checks a budget value and says what is allowed when it is wrong. */
export function validateBudget(budget: Budget, where: string, name = 'budget'): Budget {
  const ok = Number.isFinite(budget) && budget > 0 && (budget <= 1 || Number.isInteger(budget));
  if (!ok) {
    throw new InvalidConfigError(
      `${where}: ${name} must be a fraction of the tokens seen in (0, 1] or a whole number of tokens > 1, got ${budget}`,
      { [name]: budget },
    );
  }
  return budget;
}

/** Tokens a head may keep after `seen` tokens (never more than `seen`, at least 1 once anything was seen). */
export function resolveBudget(budget: Budget, seen: number): number {
  if (seen <= 0) return 0;
  // The epsilon keeps 0.25 × 400 at 100 despite floating-point error.
  const tokens = budget <= 1 ? Math.ceil(budget * seen - 1e-9) : budget;
  return Math.min(seen, Math.max(1, tokens));
}

/** Validates a non-negative integer option (sinks, windows, intervals). */
export function nonNegativeInteger(value: number, where: string, name: string): number {
  if (!Number.isInteger(value) || value < 0) throw new InvalidConfigError(`${where}: ${name} must be an integer >= 0, got ${value}`, { [name]: value });
  return value;
}

/** Validates a positive integer option. */
export function positiveInteger(value: number, where: string, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidConfigError(`${where}: ${name} must be an integer >= 1, got ${value}`, { [name]: value });
  return value;
}

/** Validates a number in [min, max]. */
export function numberInRange(value: number, min: number, max: number, where: string, name: string): number {
  if (!(Number.isFinite(value) && value >= min && value <= max)) {
    throw new InvalidConfigError(`${where}: ${name} must be a number in [${min}, ${max}], got ${value}`, { [name]: value });
  }
  return value;
}
