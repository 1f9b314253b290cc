import type { CacheLayerFactory } from '@kvkit/tensor-core';
import { compressingLayer } from '../layer/compressing-layer.js';
import type { Pooling } from '../scoring/pooling.js';
import type { BudgetedOptions } from './options.js';
import { scoredMethod } from './scored-methods.js';

/**
 * H2O (Zhang et al., 2023): heavy hitters by accumulated attention + recent tokens. Default split
 * as in the paper: half the budget recent (`recent: 0.5`), half heavy hitters; no sinks.
 */
export function h2o(options: BudgetedOptions): CacheLayerFactory {
  return compressingLayer(scoredMethod('h2o', options));
}

/** A2SF (Jo & Shin, 2024): H2O's accumulation with a forgetting factor `decay` (default 0.9). */
export function a2sf(options: BudgetedOptions & { decay?: number }): CacheLayerFactory {
  return compressingLayer(scoredMethod('a2sf', options));
}

/**
 * The L2-norm method (Devoto et al., 2024): keep the keys with the lowest L2 norm; no attention
 * needed. The paper leaves the first two layers uncompressed (`skipLayers`, default 2).
 */
export function l2norm(options: BudgetedOptions & { skipLayers?: number }): CacheLayerFactory {
  return compressingLayer(scoredMethod('l2norm', { ...options, skipLayers: options.skipLayers ?? 2 }));
}

/**
 * SnapKV (Li et al., 2024): the attention of the last `observationWindow` queries, pooled over
 * neighbouring keys; the window itself is kept. kvpress's default baseline.
 */
export function snapKV(options: BudgetedOptions & { observationWindow?: number; kernel?: number; pooling?: Pooling }): CacheLayerFactory {
  return compressingLayer(scoredMethod('snapkv', options));
}

/** TOVA (Oren et al., 2024): keep what the current query attends to most. */
export function tova(options: BudgetedOptions): CacheLayerFactory {
  return compressingLayer(scoredMethod('tova', options));
}
