import type { CacheLayerFactory } from '@kvkit/tensor-core';
import { positiveInteger } from '../budget.js';
import { crossLayerFactory } from '../cross-layer/cross-layer-state.js';
import { CompressingLayer, checkMethod } from '../layer/compressing-layer.js';
import { recencyScorer } from '../scoring/recency.js';
import { chunkSelector, type KeptPositions } from '../selection/chunk-selector.js';
import type { BudgetedOptions } from './options.js';
import { type ScorerName, type ScorerOptions, scoredMethod } from './scored-methods.js';

/**
 * ChunkKV (Liu et al., 2025): keep or drop contiguous chunks of `chunk` tokens (default 10) scored by
 * any scorer (default SnapKV's observation window), with layer-wise index reuse: with `reuse` = r,
 * layers 0, r, 2r … select and the r − 1 layers after each reuse its kept positions (default 1: no reuse).
 */
export function chunkKV(options: BudgetedOptions & ScorerOptions & { scorer?: ScorerName; chunk?: number; reuse?: number }): CacheLayerFactory {
  const chunk = positiveInteger(options.chunk ?? 10, 'chunkkv', 'chunk');
  const reuse = positiveInteger(options.reuse ?? 1, 'chunkkv', 'reuse');
  const base = scoredMethod(options.scorer ?? 'snapkv', options);
  checkMethod(base);
  const protection = { sinks: base.protection!.sinks, recent: base.protection!.recent };
  return crossLayerFactory((spec, state) => {
    const kept = state.shared<KeptPositions>('chunkkv', () => new Map());
    const follower = spec.layerIndex % reuse !== 0;
    return new CompressingLayer(
      spec,
      {
        ...base,
        name: 'chunkkv',
        // Layers that reuse indices compute no scores (the point of the reuse).
        scorer: follower ? () => recencyScorer() : base.scorer,
        selector: chunkSelector(chunk, protection, reuse, kept),
      },
      state,
    );
  });
}
