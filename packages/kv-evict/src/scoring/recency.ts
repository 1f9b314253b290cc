import type { TokenScorer } from './scorer.js';

/**
 * StreamingLLM's order: a token is worth its position, so the top-k are the most recent tokens and
 * with sinks protected the cache is "attention sinks + a sliding window". Needs no attention.
 */
export function recencyScorer(): TokenScorer {
  return {
    name: 'recency',
    columns: [],
    observation: () => undefined,
    scores: (_head, _table, positions) => Float64Array.from(positions),
  };
}
