import type { TokenScorer } from './scorer.js';

/**
 * TOVA (Oren et al., 2024): a token is worth the attention the current (last) query pays it; at each
 * step the lowest is dropped. The state is the last query's probabilities, replaced every call.
 */
export function currentAttentionScorer(): TokenScorer {
  return {
    name: 'tova',
    columns: [{ name: 'current' }],
    observation: () => ({ rows: 1 }),
    observe: (head, observation, table) => {
      table.column(head, 'current').set(observation.sum);
    },
    scores: (head, table) => Float64Array.from(table.column(head, 'current')),
  };
}
