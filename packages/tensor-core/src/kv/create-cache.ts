import { InvalidConfigError } from '../errors.js';
import type { CacheLayerFactory, CacheSpec, KVCache, KVCacheLayer } from './contract.js';
import { denseCache } from './dense-cache.js';
import { type CacheMemoryReport, combineReports, memoryReport } from './memory-report.js';
import { RecurrentState } from './recurrent-state.js';

/** One factory for every layer, or a choice per layer (layer-wise methods, mixed policies). */
export type CacheMethod = CacheLayerFactory | { perLayer: (layerIndex: number) => CacheLayerFactory };

/**
 * A cache for one request: one layer per model layer, made by `method`. Default: the dense f16 cache.
 * If a layer fails to build, the ones already built are disposed.
 */
export function createCache(spec: CacheSpec, method: CacheMethod = denseCache()): KVCache {
  for (const key of ['numLayers', 'qHeads', 'kvHeads', 'headDim', 'maxPositions'] as const) {
    if (!Number.isInteger(spec[key]) || spec[key] <= 0) throw new InvalidConfigError(`createCache: spec.${key} must be a positive integer, got ${spec[key]}`);
  }
  if (spec.qHeads % spec.kvHeads !== 0) {
    throw new InvalidConfigError(`createCache: ${spec.qHeads} query heads are not a multiple of ${spec.kvHeads} KV heads`);
  }
  if (spec.layerRopes && spec.layerRopes.length !== spec.numLayers) {
    throw new InvalidConfigError(`createCache: spec.layerRopes holds ${spec.layerRopes.length} ropes for ${spec.numLayers} layers`);
  }
  const layers: KVCacheLayer[] = [];
  let recurrentState: RecurrentState | undefined;
  try {
    for (let layerIndex = 0; layerIndex < spec.numLayers; layerIndex++) {
      const factory = typeof method === 'function' ? method : method.perLayer(layerIndex);
      // Each layer's own rope: a pre-RoPE layer rotates with it (by nothing on a NoPE layer).
      layers.push(factory({ ...spec, rope: spec.layerRopes?.[layerIndex] ?? spec.rope, layerIndex }));
    }
    if (spec.recurrentState) recurrentState = new RecurrentState(spec.recurrentState, spec.backend);
  } catch (error) {
    for (const layer of layers) layer.dispose();
    throw error;
  }
  return new LayeredCache(spec, layers, recurrentState);
}

class LayeredCache implements KVCache {
  constructor(
    readonly spec: CacheSpec,
    readonly layers: readonly KVCacheLayer[],
    readonly recurrentState?: RecurrentState,
  ) {}

  memory(): CacheMemoryReport {
    const report = combineReports(this.layers.map((layer) => layer.memory()));
    if (!this.recurrentState) return report;
    // The model's own state counts as a part of the cache's total, beside the layers' parts.
    const total = memoryReport({ ...report.parts, recurrent: this.recurrentState.bytes }, report.tokens);
    return { ...total, layers: report.layers };
  }

  dispose(): void {
    for (const layer of this.layers) layer.dispose();
    this.recurrentState?.dispose();
  }
}
