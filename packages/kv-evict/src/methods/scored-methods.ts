import { type CacheLayerFactory, InvalidConfigError } from '@kvkit/tensor-core';
import { nonNegativeInteger, numberInRange, positiveInteger, validateBudget } from '../budget.js';
import type { CompressionMethod } from '../layer/compression-method.js';
import { compressingLayer } from '../layer/compressing-layer.js';
import { accumulatedAttentionScorer } from '../scoring/accumulated-attention.js';
import { currentAttentionScorer } from '../scoring/current-attention.js';
import { globalLocalScorer } from '../scoring/global-local.js';
import { keyNormScorer } from '../scoring/key-norm.js';
import { observationWindowScorer } from '../scoring/observation-window.js';
import { type Pooling, validatePooling } from '../scoring/pooling.js';
import { recencyScorer } from '../scoring/recency.js';
import type { ScorerFactory } from '../scoring/scorer.js';
import type { Protection } from '../selection/protection.js';
import type { BudgetedOptions, CommonOptions } from './options.js';

/** The token scorers layer allocators (PyramidKV, SqueezeAttention …) and ChunkKV can wrap. */
export const SCORER_NAMES = ['streaming', 'h2o', 'a2sf', 'l2norm', 'snapkv', 'tova', 'globallocal'] as const;
export type ScorerName = (typeof SCORER_NAMES)[number];

/** Options of the scorers (each reads its own). */
export interface ScorerOptions {
  /** A2SF's forgetting factor λ (default 0.9). */
  decay?: number;
  /** SnapKV / Global-Local observation window in queries (default 32). */
  observationWindow?: number;
  /** SnapKV pooling kernel (odd, default 5) and kind (default avg). */
  kernel?: number;
  pooling?: Pooling;
}

/** Each paper's protected tokens when the caller sets none. */
function paperProtection(name: ScorerName, options: ScorerOptions): Protection {
  switch (name) {
    case 'streaming':
      return { sinks: 4, recent: 0 };
    case 'h2o':
    case 'a2sf':
      return { sinks: 0, recent: 0.5 }; // H2O: half heavy hitters, half recent tokens
    case 'snapkv':
    case 'globallocal':
      return { sinks: 0, recent: options.observationWindow ?? 32 }; // the observation window itself is kept
    case 'l2norm':
    case 'tova':
      return { sinks: 0, recent: 0 };
  }
}

export function scorerFactory(name: ScorerName, options: ScorerOptions): ScorerFactory {
  switch (name) {
    case 'streaming':
      return () => recencyScorer();
    case 'h2o':
      return () => accumulatedAttentionScorer({ decay: 1 });
    case 'a2sf':
      return () => accumulatedAttentionScorer({ decay: options.decay ?? 0.9 });
    case 'l2norm':
      return (layer) => keyNormScorer(layer.headDim);
    case 'snapkv':
      return () => observationWindowScorer({ window: options.observationWindow, kernel: options.kernel, pooling: options.pooling });
    case 'tova':
      return () => currentAttentionScorer();
    case 'globallocal':
      return () => globalLocalScorer({ window: options.observationWindow });
    default:
      throw new InvalidConfigError(`unknown scorer "${name}"; scorers: ${SCORER_NAMES.join(', ')}`);
  }
}

/** Fails when the method is made, not at its first layer. */
function validateScorerOptions(options: ScorerOptions, where: string): void {
  if (options.decay !== undefined) numberInRange(options.decay, 0, 1, where, 'decay');
  if (options.observationWindow !== undefined) positiveInteger(options.observationWindow, where, 'observationWindow');
  validatePooling(options.pooling ?? 'avg', options.kernel ?? 5, where);
}

/**
 * A budgeted method from a scorer: protected tokens + top scores per head, evicted (or whatever
 * `policy` does). The building block of the scorer methods and of the layer allocators.
 */
export function scoredMethod(name: ScorerName, options: BudgetedOptions & ScorerOptions & { skipLayers?: number }): CompressionMethod {
  if (!(SCORER_NAMES as readonly string[]).includes(name)) throw new InvalidConfigError(`unknown scorer "${name}"; scorers: ${SCORER_NAMES.join(', ')}`);
  validateBudget(options.budget, name);
  const defaults = paperProtection(name, options);
  const skipLayers = nonNegativeInteger(options.skipLayers ?? 0, name, 'skipLayers');
  const scorer = scorerFactory(name, options);
  validateScorerOptions(options, name);
  return {
    name,
    budget: options.budget,
    scorer,
    protection: { sinks: options.sinks ?? defaults.sinks, recent: options.recent ?? defaults.recent },
    heads: options.heads,
    headFloor: options.headFloor,
    gqa: options.gqa,
    trigger: options.trigger,
    store: options.store,
    policy: options.policy,
    ...(skipLayers > 0 ? { skipLayer: (layer: number) => layer < skipLayers } : {}),
  };
}

/** StreamingLLM (Xiao et al., 2024): `sinks` first tokens + the most recent ones; `window` tokens, or a budget. */
export function streamingLLM(options: CommonOptions & { window?: number; budget?: number }): CacheLayerFactory {
  const sinks = options.sinks ?? 4;
  if ((options.window === undefined) === (options.budget === undefined)) {
    throw new InvalidConfigError('streamingLLM: give either window (recent tokens) or budget (total tokens or a fraction), not both');
  }
  let budget = options.budget!;
  if (options.window !== undefined) {
    budget = sinks + positiveInteger(options.window, 'streamingLLM', 'window');
    if (budget < 2) throw new InvalidConfigError('streamingLLM: sinks + window must be at least 2 tokens');
  }
  return compressingLayer(scoredMethod('streaming', { ...options, sinks, recent: options.recent ?? 0, budget }));
}
