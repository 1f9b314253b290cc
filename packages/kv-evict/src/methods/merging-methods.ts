import type { CacheLayerFactory } from '@kvkit/tensor-core';
import { densityAllocator } from '../allocators/density.js';
import { compressingLayer } from '../layer/compressing-layer.js';
import { evictThenMergePolicy } from '../policies/evict-then-merge.js';
import { gaussianMergePolicy } from '../policies/gaussian-merge.js';
import { recallMergePolicy } from '../policies/recall-merge.js';
import { withLayerAllocator } from './layer-allocated.js';
import type { BudgetedOptions } from './options.js';
import { type ScorerName, type ScorerOptions, scoredMethod } from './scored-methods.js';

/**
 * KVMerger (Wang et al., 2024): tokens that do not fit are merged, with Gaussian-kernel weights,
 * into the kept token of their run of similar consecutive keys instead of being dropped. The kept
 * set comes from a scorer (default H2O's accumulated attention).
 */
export function kvMerger(options: BudgetedOptions & ScorerOptions & { scorer?: ScorerName; threshold?: number; sigma?: number }): CacheLayerFactory {
  return compressingLayer({ ...scoredMethod(options.scorer ?? 'h2o', options), name: 'kvmerger', policy: gaussianMergePolicy({ threshold: options.threshold, sigma: options.sigma }) });
}

/**
 * D2O (Wan et al., 2024): layer budgets from attention density (dense layers evict less), H2O
 * scoring, and evicted tokens recalled and merged into their most similar kept token when the
 * similarity passes an EMA threshold.
 */
export function d2o(options: BudgetedOptions & { beta?: number; floor?: number }): CacheLayerFactory {
  return withLayerAllocator(
    { ...scoredMethod('h2o', options), name: 'd2o', policy: recallMergePolicy({ beta: options.beta }) },
    densityAllocator({ floor: options.floor }),
  );
}

/**
 * EMS (Li et al., 2024): Global-Local scores, head-wise (adaptive) budgets, and evict-then-merge:
 * the least important share `evict` of the overflow is dropped, the rest merged into similar kept
 * tokens.
 */
export function ems(options: BudgetedOptions & { evict?: number; observationWindow?: number }): CacheLayerFactory {
  return compressingLayer({
    ...scoredMethod('globallocal', { ...options, heads: options.heads ?? 'adaptive' }),
    name: 'ems',
    policy: evictThenMergePolicy({ evict: options.evict }),
  });
}
