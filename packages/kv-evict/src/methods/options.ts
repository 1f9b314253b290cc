import type { Budget } from '../budget.js';
import type { GqaReduce } from '../gqa.js';
import type { TriggerOptions } from '../layer/trigger.js';
import type { PolicyFactory } from '../policies/policy.js';
import type { HeadAllocation } from '../selection/head-budgets.js';
import type { TokenStoreFactory } from '@kvkit/tensor-core';

/** Options every kv-evict method takes. */
export interface CommonOptions {
  /** Attention sinks kept whatever their score (the method's paper sets the default). */
  sinks?: number;
  /** Recent tokens kept whatever their score: a count, or a fraction (0, 1) of the budget. */
  recent?: number;
  /** Split of a layer's budget over its KV heads (default uniform). */
  heads?: HeadAllocation;
  /** Ada-KV's per-head safeguard share with `heads: 'adaptive'` (default 0.2). */
  headFloor?: number;
  /** GQA score aggregation over a query group (default mean). */
  gqa?: GqaReduce;
  trigger?: TriggerOptions;
  /** Per-head storage (default f16 `raggedDenseStore()`); a quantized store here is evict + quantize. */
  store?: TokenStoreFactory;
  /** What happens to unselected tokens (default evict); `demotePolicy(store)` keeps them in a cheaper tier. */
  policy?: PolicyFactory;
}

export interface BudgetedOptions extends CommonOptions {
  /** Tokens per head: a fraction (0, 1] of the tokens seen, or a whole number > 1. */
  budget: Budget;
}
