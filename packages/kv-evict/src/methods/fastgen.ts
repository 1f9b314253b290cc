import type { CacheLayerFactory } from '@kvkit/tensor-core';
import { nonNegativeInteger, numberInRange } from '../budget.js';
import { FastGenProfile, fastGenScorer } from '../fastgen/fastgen-profile.js';
import { fastGenSelector } from '../fastgen/fastgen-selector.js';
import type { FastGenConfig } from '../fastgen/fastgen-policies.js';
import { CompressingLayer, checkMethod } from '../layer/compressing-layer.js';
import type { CompressionMethod } from '../layer/compression-method.js';
import type { CommonOptions } from './options.js';

export interface FastGenOptions extends Omit<CommonOptions, 'recent' | 'heads' | 'headFloor'> {
  /** Share of a head's prompt attention its policy must recover (default 0.95). */
  threshold?: number;
  /** Local window share of the tokens seen (default 0.3). */
  localRatio?: number;
  /** Heavy-hitter share of the tokens seen (default 0.3). */
  frequencyRatio?: number;
  /** Special token ids (BOS, EOS, chat markers); `tokenClassesFromVocabulary` finds them. */
  specialTokenIds?: ArrayLike<number>;
  /** Punctuation token ids. */
  punctuationTokenIds?: ArrayLike<number>;
}

/**
 * FastGen (Ge et al., 2024): each head is profiled on the prompt and gets the cheapest policy
 * (special tokens, + punctuation, + heavy hitters, + local window, or full) that recovers
 * `threshold` of its attention; the policy then governs that head while decoding. There is no
 * budget: memory follows the heads' policies (see `describe()` of a layer). The first `sinks`
 * tokens (default 1: BOS) count as special. Needs token ids in `StepInfo` for the special and
 * punctuation policies.
 */
export function fastGen(options: FastGenOptions = {}): CacheLayerFactory {
  const config: FastGenConfig = {
    threshold: numberInRange(options.threshold ?? 0.95, 0, 1, 'fastgen', 'threshold'),
    localRatio: numberInRange(options.localRatio ?? 0.3, 0, 1, 'fastgen', 'localRatio'),
    frequencyRatio: numberInRange(options.frequencyRatio ?? 0.3, 0, 1, 'fastgen', 'frequencyRatio'),
    special: new Set(Array.from(options.specialTokenIds ?? [])),
    punctuation: new Set(Array.from(options.punctuationTokenIds ?? [])),
    sinks: nonNegativeInteger(options.sinks ?? 1, 'fastgen', 'sinks'),
  };
  const shared: CompressionMethod = { name: 'fastgen', gqa: options.gqa, trigger: options.trigger, store: options.store, policy: options.policy };
  checkMethod(shared);
  return (spec) => {
    // The scorer measures the policies on the prompt; the selector applies the chosen one.
    const profile = new FastGenProfile(spec.kvHeads);
    return new CompressingLayer(spec, { ...shared, scorer: () => fastGenScorer(profile, config), selector: fastGenSelector(config, profile) });
  };
}
