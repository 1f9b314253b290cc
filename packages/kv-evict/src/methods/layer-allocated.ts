import type { CacheLayerFactory } from '@kvkit/tensor-core';
import type { LayerAllocator } from '../allocators/allocator.js';
import { dynamicAllocator } from '../allocators/dynamic.js';
import { pyramidAllocator } from '../allocators/pyramid.js';
import { squeezeAllocator } from '../allocators/squeeze.js';
import { zigzagAllocator } from '../allocators/zigzag.js';
import { crossLayerFactory } from '../cross-layer/cross-layer-state.js';
import type { CompressionMethod } from '../layer/compression-method.js';
import { checkMethod, CompressingLayer } from '../layer/compressing-layer.js';
import type { BudgetedOptions } from './options.js';
import { type ScorerName, type ScorerOptions, scoredMethod } from './scored-methods.js';

/** A method whose layers share one allocator per cache: the allocator scales each layer's scored budget. */
export function withLayerAllocator(method: CompressionMethod, allocator: LayerAllocator): CacheLayerFactory {
  checkMethod(method);
  return crossLayerFactory((spec, state) => new CompressingLayer(spec, method, state), { allocator });
}

/** Options of a layer-allocated method: the budget, the wrapped scorer and its options. */
export type AllocatedOptions = BudgetedOptions & ScorerOptions & { scorer?: ScorerName };

/** PyramidKV (Cai et al., 2024): pyramid-shaped layer budgets over any scorer (default SnapKV's). */
export function pyramidKV(options: AllocatedOptions & { beta?: number }): CacheLayerFactory {
  return withLayerAllocator(scoredMethod(options.scorer ?? 'snapkv', options), pyramidAllocator({ beta: options.beta }));
}

/** SqueezeAttention (Wang et al., 2024): layer budgets from hidden-state cosine similarity, over any scorer (default H2O). */
export function squeezeAttention(options: AllocatedOptions & { squeeze?: number }): CacheLayerFactory {
  return withLayerAllocator(scoredMethod(options.scorer ?? 'h2o', options), squeezeAllocator({ squeeze: options.squeeze }));
}

/** DynamicKV (Zhou et al., 2024): task-adaptive layer budgets reallocated periodically, over any scorer (default SnapKV's). */
export function dynamicKV(options: AllocatedOptions & { layerInterval?: number; reallocateEvery?: number; maxWeight?: number }): CacheLayerFactory {
  return withLayerAllocator(
    scoredMethod(options.scorer ?? 'snapkv', options),
    dynamicAllocator({ layerInterval: options.layerInterval, reallocateEvery: options.reallocateEvery, maxWeight: options.maxWeight }),
  );
}

/** ZigZagKV (Zhong et al., 2024): layer budgets from layer uncertainty, over any scorer (default SnapKV's). */
export function zigzagKV(options: AllocatedOptions & { mass?: number; floor?: number }): CacheLayerFactory {
  return withLayerAllocator(scoredMethod(options.scorer ?? 'snapkv', options), zigzagAllocator({ mass: options.mass, floor: options.floor }));
}
