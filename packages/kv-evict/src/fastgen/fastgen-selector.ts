import type { SelectorFactory } from '../selection/selector.js';
import { indicesOf } from '../selection/top-k.js';
import { type FastGenConfig, policyMarks, rankTokens } from './fastgen-policies.js';
import type { FastGenProfile } from './fastgen-profile.js';

/**
 * FastGen (Ge et al., 2024) as a selector: at its first compression each head takes the cheapest
 * policy whose recovery on the prompt (measured by `fastGenScorer`) reaches the threshold; that
 * policy then decides every compression of the head, over all the tokens seen so far.
 */
export function fastGenSelector(config: FastGenConfig, profile: FastGenProfile): SelectorFactory {
  return () => ({
    name: 'fastgen',
    select: (context) => {
      const policy = profile.choose(context.head, config.threshold);
      const count = context.scores.length;
      return indicesOf(policyMarks(policy, count, context.table.tokenIds(context.head), rankTokens(context.scores), config, context.seen));
    },
    describe: () => ({ headPolicies: [...profile.policies], recovery: profile.recovery.map((r) => (r ? [...r] : null)) }),
  });
}
