import { InvalidConfigError } from '@kvkit/tensor-core';

/** What a mixed-precision cache knows about each held token (in storage order). */
export interface TokenStatistics {
  /** Absolute positions. */
  positions: Int32Array;
  /** Attention received so far: Σ over attended queries of the probability, averaged over query heads. */
  attention: Float32Array;
  /** How many of those queries could see the token (causal mask and window). */
  queries: Float32Array;
}

/** Importance of each held token (higher = keep at high precision). */
export type TokenScorer = (tokens: TokenStatistics) => Float64Array;

/** H2O's heavy-hitter score (MiKV's default): accumulated attention. */
export const accumulatedAttention: TokenScorer = (s) => Float64Array.from(s.attention);

/**
 * ZipCache's normalized attention score: accumulated attention divided by the number of queries
 * that could attend to the token, so that early tokens (seen by every later query under the causal
 * mask) are not favoured merely for being early.
 */
export const normalizedAttention: TokenScorer = (s) => Float64Array.from(s.attention, (a, i) => (s.queries[i] > 0 ? a / s.queries[i] : 0));

export const SCORERS: Readonly<Record<string, TokenScorer>> = {
  accumulated: accumulatedAttention,
  normalized: normalizedAttention,
};

export function resolveScorer(scorer: string | TokenScorer, where: string): TokenScorer {
  if (typeof scorer === 'function') return scorer;
  const found = SCORERS[scorer];
  if (!found) throw new InvalidConfigError(`${where}: unknown scorer "${scorer}"; scorers: ${Object.keys(SCORERS).join(', ')} (or a function)`);
  return found;
}
