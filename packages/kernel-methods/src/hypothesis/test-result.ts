import { InvalidConfigError } from '@kvkit/tensor-core';
import { requireInteger } from '../points.js';

/**
 * What a kernel hypothesis test returns (kernlab's `kmmd`, goodpoints' `CttResult`): the statistic,
 * its p-value against the simulated null, the null samples themselves, the decision at level
 * alpha, and the seeds, kept separate for the statistic and for the null (goodpoints) so either can
 * be reproduced alone.
 */
export interface TestResult {
  statistic: number;
  pValue: number;
  /** Statistics simulated under the null (permutations or bootstrap draws). */
  nullSamples: Float64Array;
  alpha: number;
  /** pValue <= alpha. */
  rejected: boolean;
  seeds: { statistic?: number; null: number };
}

export interface NullSimulationOptions {
  /** Level of the test (default 0.05). */
  alpha?: number;
  /** Number of null draws (default 500). */
  nullSamples?: number;
  /** Seed of the null draws (default 0). */
  nullSeed?: number;
}

export function resolveNullOptions(options: NullSimulationOptions, where: string): { alpha: number; draws: number; nullSeed: number } {
  const alpha = options.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new InvalidConfigError(`${where}: alpha must be in (0, 1), got ${alpha}`);
  const draws = requireInteger(options.nullSamples ?? 500, 1, 1e7, where, 'nullSamples');
  return { alpha, draws, nullSeed: options.nullSeed ?? 0 };
}

/** p = (1 + #{null >= statistic}) / (1 + B): a valid p-value for a Monte Carlo test (Davison & Hinkley 1997). */
export function monteCarloPValue(statistic: number, nullSamples: Float64Array): number {
  let exceed = 0;
  for (const v of nullSamples) if (v >= statistic) exceed++;
  return (1 + exceed) / (1 + nullSamples.length);
}
