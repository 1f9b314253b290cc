import { numberInRange } from '../budget.js';
import type { TokenScorer } from './scorer.js';

/**
 * Accumulated attention with a forgetting factor λ: after each query row, S(j) ← λ·S(j) + p(row → j).
 * λ = 1 is H2O's heavy-hitter score (Zhang et al., 2023: the column sums of the attention matrix);
 * λ < 1 is A2SF (Jo & Shin, 2024): older contributions decay, so tokens that arrived early no longer
 * win just because more queries could see them. A call with m rows applies
 * S ← λ^m·S + Σ_i λ^(m−1−i)·p_i, exactly the per-row recursion.
 */
export function accumulatedAttentionScorer(options: { decay?: number } = {}): TokenScorer {
  const decay = numberInRange(options.decay ?? 1, 0, 1, 'accumulated attention', 'decay');
  return {
    name: decay === 1 ? 'h2o' : 'a2sf',
    columns: [{ name: 'accumulated' }],
    observation: (step) => {
      const m = step.queryPositions.length;
      if (decay === 1) return { rows: m };
      const rowWeights = new Float64Array(m);
      for (let i = 0; i < m; i++) rowWeights[i] = decay ** (m - 1 - i);
      return { rows: m, rowWeights };
    },
    observe: (head, observation, table) => {
      const acc = table.column(head, 'accumulated');
      const carry = decay ** observation.rows;
      for (let j = 0; j < acc.length; j++) acc[j] = carry * acc[j] + observation.sum[j];
    },
    scores: (head, table) => Float64Array.from(table.column(head, 'accumulated')),
  };
}
