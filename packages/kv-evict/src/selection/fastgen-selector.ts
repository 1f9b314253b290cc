import { type SelectorFactory } from './selector.js';
import { indicesOf, rankByScore } from './top-k.js';

/** FastGen's compression policies, from cheapest to full; each includes the ones before it. */
export const FASTGEN_POLICIES = ['special', 'punctuation', 'frequency', 'local', 'full'] as const;
export type FastGenPolicy = (typeof FASTGEN_POLICIES)[number];

export interface FastGenSelection {
  /** Share of a head's prompt attention a policy must keep (FastGen's recovery threshold T). */
  threshold: number;
  /** Local window as a share of the tokens seen. */
  localRatio: number;
  /** Heavy hitters as a share of the tokens seen. */
  frequencyRatio: number;
  special: ReadonlySet<number>;
  punctuation: ReadonlySet<number>;
  /** The first tokens count as special tokens (BOS), whatever their ids. */
  sinks: number;
}

/**
 * FastGen (Ge et al., 2024) as a selector. At its first compression (the end of the prompt) each
 * head is profiled: its accumulated attention (the scores) says what share of the prompt's attention
 * each policy's kept set would recover, and the head gets the cheapest policy that recovers
 * `threshold`. The policy then decides every later compression of that head: special tokens;
 * + punctuation; + heavy hitters (top `frequencyRatio` of tokens by accumulated attention);
 * + the local window (last `localRatio` of tokens); or the full cache.
 */
export function fastGenSelector(config: FastGenSelection): SelectorFactory {
  return (layer) => {
    const policies: (FastGenPolicy | undefined)[] = new Array(layer.kvHeads).fill(undefined);
    const recovered: number[] = new Array(layer.kvHeads).fill(Number.NaN);
    return {
      name: 'fastgen',
      select: (context) => {
        const count = context.scores.length;
        if (policies[context.head] === undefined) {
          const total = context.scores.reduce((a, b) => a + b, 0);
          for (const policy of FASTGEN_POLICIES) {
            const marks = policyMarks(policy, context.scores, context.table.tokenIds(context.head), context.seen, config);
            let share = 0;
            for (let j = 0; j < count; j++) if (marks[j]) share += context.scores[j];
            share = total > 0 ? share / total : 1;
            if (share >= config.threshold || policy === 'full') {
              policies[context.head] = policy;
              recovered[context.head] = share;
              break;
            }
          }
        }
        return indicesOf(policyMarks(policies[context.head]!, context.scores, context.table.tokenIds(context.head), context.seen, config));
      },
      describe: () => ({ headPolicies: [...policies], recovered: [...recovered] }),
    };
  };
}

/** The kept set of `policy` as marks over the stored tokens. */
export function policyMarks(policy: FastGenPolicy, scores: Float64Array, tokenIds: Int32Array, seen: number, config: FastGenSelection): Uint8Array {
  const count = scores.length;
  const marks = new Uint8Array(count);
  if (policy === 'full') return marks.fill(1);
  const level = FASTGEN_POLICIES.indexOf(policy);
  for (let j = 0; j < count; j++) {
    if (j < config.sinks || config.special.has(tokenIds[j])) marks[j] = 1;
    else if (level >= 1 && config.punctuation.has(tokenIds[j])) marks[j] = 1;
  }
  if (level >= 2) {
    const heavy = Math.ceil(config.frequencyRatio * seen - 1e-9);
    const ranked = rankByScore(scores);
    for (let r = 0; r < Math.min(heavy, ranked.length); r++) marks[ranked[r]] = 1;
  }
  if (level >= 3) {
    const local = Math.ceil(config.localRatio * seen - 1e-9);
    for (let j = Math.max(0, count - local); j < count; j++) marks[j] = 1;
  }
  return marks;
}
