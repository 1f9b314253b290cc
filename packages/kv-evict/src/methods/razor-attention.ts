import type { CacheLayerFactory } from '@kvkit/tensor-core';
import { type Budget, nonNegativeInteger, validateBudget } from '../budget.js';
import { crossLayerFactory } from '../cross-layer/cross-layer-state.js';
import { validateGqa } from '../gqa.js';
import { CompressingLayer } from '../layer/compressing-layer.js';
import { compensationPolicy } from '../policies/compensate.js';
import { evictPolicy } from '../policies/evict.js';
import { RazorState } from '../razor/razor-state.js';
import { razorSelector } from '../razor/razor-selector.js';
import type { RetrievalHeadProfile, RetrievalShares } from '../razor/retrieval-heads.js';
import { retrievalProbeScorer } from '../razor/retrieval-probe-scorer.js';
import { selectRetrievalHeads } from '../razor/retrieval-heads.js';
import type { CommonOptions } from './options.js';

export interface RazorOptions extends Omit<CommonOptions, 'recent' | 'heads' | 'headFloor' | 'policy'>, RetrievalShares {
  /** Tokens a non-retrieval head keeps (sinks + recent window): a fraction of the tokens seen or a count (default 0.2, the paper's N/5). */
  budget?: Budget;
  /** Echo/induction profile from `profileRetrievalHeads`; without one each cache profiles its own prompt (needs token ids). */
  profile?: RetrievalHeadProfile;
  /** Summarize dropped tokens into a compensation token per head (default true). */
  compensation?: boolean;
}

/**
 * RazorAttention (Tang et al., 2024): retrieval heads (echo/induction) keep their full cache; every
 * other head keeps `sinks` + a recent window, plus one compensation token that stands for what it
 * dropped. With an in-context profile, compression of the first prompt waits until every layer has
 * been profiled (end of the prefill pass), since the retrieval heads are the top share of the model.
 */
export function razorAttention(options: RazorOptions = {}): CacheLayerFactory {
  const budget = validateBudget(options.budget ?? 0.2, 'razor');
  const sinks = nonNegativeInteger(options.sinks ?? 4, 'razor', 'sinks');
  const gqa = validateGqa(options.gqa ?? 'max', 'razor');
  const shares: RetrievalShares = { echoShare: options.echoShare, inductionShare: options.inductionShare };
  if (options.profile) selectRetrievalHeads(options.profile, shares); // fail early on a malformed profile
  const policy = options.compensation === false ? evictPolicy() : compensationPolicy();
  return crossLayerFactory(
    (spec, state) => {
      const razor = state.shared('razor', () => new RazorState(spec.numLayers, shares, options.profile));
      if (spec.layerIndex === 0 && !options.profile) state.onPassEnd(() => razor.decide());
      return new CompressingLayer(
        spec,
        {
          name: 'razor',
          ...(options.profile ? {} : { scorer: () => retrievalProbeScorer(razor, spec.layerIndex) }),
          selector: razorSelector(razor, budget, sinks),
          policy,
          gqa,
          trigger: options.trigger,
          store: options.store,
        },
        state,
      );
    },
    { deferPrefill: !options.profile },
  );
}
