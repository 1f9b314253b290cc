import { InvalidConfigError } from '../errors.js';
import type { CacheLayerFactory, CacheSpec, KVCache, KVCacheLayer } from './contract.js';
import { denseCache } from './dense-cache.js';
import { type CacheMemoryReport, combineReports } from './memory-report.js';

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
  const layers: KVCacheLayer[] = [];
  try {
    for (let layerIndex = 0; layerIndex < spec.numLayers; layerIndex++) {
      const factory = typeof method === 'function' ? method : method.perLayer(layerIndex);
      // A NoPE layer's keys are never rotated: a pre-RoPE layer that rotates with its spec's rope then rotates by zero.
      const rope = spec.noRopeLayers?.includes(layerIndex) ? { ...spec.rope, invFreq: new Float32Array(spec.rope.invFreq.length) } : spec.rope;
      layers.push(factory({ ...spec, rope, layerIndex }));
    }
  } catch (error) {
    for (const layer of layers) layer.dispose();
    throw error;
  }
  return new LayeredCache(spec, layers);
}

class LayeredCache implements KVCache {
  constructor(
    readonly spec: CacheSpec,
    readonly layers: readonly KVCacheLayer[],
  ) {}

  memory(): CacheMemoryReport {
    return combineReports(this.layers.map((layer) => layer.memory()));
  }

  dispose(): void {
    for (const layer of this.layers) layer.dispose();
  }
}
