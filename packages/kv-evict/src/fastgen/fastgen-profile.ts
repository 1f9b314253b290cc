import type { TokenScorer } from '../scoring/scorer.js';
import { FASTGEN_POLICIES, type FastGenConfig, type FastGenPolicy, policyMarks, rankTokens } from './fastgen-policies.js';

/** Per layer: what each head's prompt attention says about each policy, and the policy it got. */
export class FastGenProfile {
  /** recovery[head][policy index]: mean share of a prompt row's attention the policy keeps. */
  readonly recovery: (number[] | undefined)[];
  readonly policies: (FastGenPolicy | undefined)[];

  constructor(readonly kvHeads: number) {
    this.recovery = new Array(kvHeads).fill(undefined);
    this.policies = new Array(kvHeads).fill(undefined);
  }

  /** The cheapest policy that recovers `threshold` (full when none does); fixed once chosen. */
  choose(head: number, threshold: number): FastGenPolicy {
    if (this.policies[head] === undefined) {
      const recovery = this.recovery[head];
      const index = recovery ? recovery.findIndex((share) => share >= threshold) : -1;
      this.policies[head] = index < 0 ? 'full' : FASTGEN_POLICIES[index];
    }
    return this.policies[head]!;
  }
}

/**
 * FastGen's profiling scorer: accumulates attention (heavy hitters, as H2O) and, on the first prompt
 * call, measures each policy on the prompt's attention map — row by row, each query with the policy
 * applied as it would have been at that query (local window and heavy hitters relative to the
 * tokens that query sees), averaged over rows.
 */
export function fastGenScorer(profile: FastGenProfile, config: FastGenConfig): TokenScorer {
  let profiled = false;
  return {
    name: 'fastgen-profile',
    columns: [{ name: 'accumulated' }],
    observation: (step) => {
      const m = step.queryPositions.length;
      return !profiled && step.phase === 'prefill' ? { rows: m, perRow: m } : { rows: m };
    },
    observe: (head, observation, table) => {
      const acc = table.column(head, 'accumulated');
      for (let j = 0; j < acc.length; j++) acc[j] += observation.sum[j];
      if (!observation.perRow) return;
      const n = acc.length;
      const m = observation.perRowCount;
      const ranked = rankTokens(acc);
      const tokenIds = table.tokenIds(head);
      profile.recovery[head] = FASTGEN_POLICIES.map((policy) => {
        let total = 0;
        for (let i = 0; i < m; i++) {
          const upTo = n - m + i + 1; // the query's own storage index + 1: the tokens it can see
          const marks = policyMarks(policy, upTo, tokenIds, ranked, config);
          for (let j = 0; j < upTo; j++) if (marks[j]) total += observation.perRow![i * n + j];
        }
        return m > 0 ? total / m : 1;
      });
      if (head === profile.kvHeads - 1) profiled = true;
    },
    scores: (head, table) => Float64Array.from(table.column(head, 'accumulated')),
  };
}
