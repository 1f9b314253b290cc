import type { GqaReduce } from '../gqa.js';
import type { PolicyFactory } from '../policies/policy.js';
import type { HeadAllocation } from '../selection/head-budgets.js';
import type { Protection } from '../selection/protection.js';
import type { SelectorFactory } from '../selection/selector.js';
import type { ScorerFactory } from '../scoring/scorer.js';
import type { TokenStoreFactory } from '@kvkit/tensor-core';
import type { Budget } from '../budget.js';
import type { TriggerOptions } from './trigger.js';

/**
 * A compression method, composed from the framework's parts. Every public method of kv-evict
 * (`h2o`, `snapKV`, `fastGen` …) is one of these turned into a `CacheLayerFactory` by
 * `compressingLayer`.
 */
export interface CompressionMethod {
  /** Shown in errors and `allocation()`. */
  name: string;
  /** Per-head storage (default: `raggedDenseStore()`, f16). A quantized store plugs in here. */
  store?: TokenStoreFactory;
  /** What a token is worth; absent = recency (positions). */
  scorer?: ScorerFactory;
  /** Which tokens a head keeps (default: protected tokens + top scores). */
  selector?: SelectorFactory;
  /** What happens to the rest (default: evict). */
  policy?: PolicyFactory;
  /** Tokens per head; absent = the selector decides alone (FastGen, RazorAttention). */
  budget?: Budget;
  /** Sinks and recent window, kept whatever their scores (default 4 sinks, 32 recent). */
  protection?: Protection;
  /** How a layer's budget splits over its KV heads (default uniform). */
  heads?: HeadAllocation;
  /** Ada-KV's safeguard share for adaptive heads (default 0.2). */
  headFloor?: number;
  /** GQA: mean or max over the query heads of a group (default mean). */
  gqa?: GqaReduce;
  trigger?: TriggerOptions;
  /** Layers left uncompressed (the L2-norm method skips the first two). */
  skipLayer?: (layerIndex: number) => boolean;
}
