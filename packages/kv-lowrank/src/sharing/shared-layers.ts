import {
  type AttendOptions,
  type AttendResult,
  type CacheLayerFactory,
  type CacheMethod,
  DisposedError,
  InvalidConfigError,
  type KVCacheLayer,
  type LayerSpec,
  type MemoryReport,
  type StepInfo,
  type Tensor,
  denseCache,
  memoryReport,
  validateAppend,
  validateAttend,
} from '@kvkit/tensor-core';

/**
 * Which cache each layer reads: `sourceOf[l] === l` keeps its own cache; otherwise layer l reuses the
 * cache of an earlier layer (which keeps its own). Earlier only: within one forward pass, the source
 * has appended the current tokens by the time the consumer attends.
 */
export interface SharingPlan {
  sourceOf: number[];
}

export function validateSharingPlan(plan: SharingPlan, numLayers: number, where: string): void {
  const sources = plan?.sourceOf;
  if (!Array.isArray(sources) || sources.length !== numLayers) throw new InvalidConfigError(`${where}: sourceOf must list ${numLayers} layers`);
  sources.forEach((s, l) => {
    if (!Number.isInteger(s) || s < 0 || s > l) throw new InvalidConfigError(`${where}: layer ${l} can only read its own cache or an earlier layer's, got ${s}`);
    if (s !== l && sources[s] !== s) throw new InvalidConfigError(`${where}: layer ${l} reads layer ${s}, which itself reads layer ${sources[s]} (sources keep their own cache)`);
  });
}

/** Layers whose cache is shared away: the KV memory saved is theirs. */
export function sharedLayerCount(plan: SharingPlan): number {
  return plan.sourceOf.filter((s, l) => s !== l).length;
}

/**
 * A cache where some layers reuse an earlier layer's cache (cross-layer KV sharing): source layers are
 * built by `base` (any method: dense, quantized, low-rank …), consumer layers hold nothing and attend
 * with their own queries over their source's keys and values.
 *
 * The layers of one cache find each other through a registry that `createCache` fills in layer order;
 * building layer 0 starts a new cache, so one factory serves any number of caches.
 */
export function sharedLayers(plan: SharingPlan, base: CacheMethod = denseCache()): CacheLayerFactory {
  const where = 'sharedLayers';
  validateSharingPlan(plan, plan?.sourceOf?.length ?? 0, where);
  let registry: KVCacheLayer[] = [];
  return (spec: LayerSpec) => {
    const layerIndex = spec.layerIndex;
    if (spec.numLayers !== plan.sourceOf.length) throw new InvalidConfigError(`${where}: the plan covers ${plan.sourceOf.length} layers, the model has ${spec.numLayers}`);
    if (layerIndex === 0) registry = [];
    const source = plan.sourceOf[layerIndex];
    if (source === layerIndex) {
      const factory = typeof base === 'function' ? base : base.perLayer(layerIndex);
      const layer = factory(spec);
      registry[layerIndex] = layer;
      return layer;
    }
    const owner = registry[source];
    if (!owner) throw new InvalidConfigError(`${where}: layer ${layerIndex} reads layer ${source}, which this cache has not built (build layers in order)`);
    return new SharedKVLayer(spec, owner);
  };
}

/** A layer that stores nothing and reads another layer's cache. */
export class SharedKVLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  private disposed = false;

  constructor(
    spec: LayerSpec,
    readonly source: KVCacheLayer,
  ) {
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
  }

  get keyInput(): 'post-rope' | 'pre-rope' {
    return this.source.keyInput;
  }

  /** As the source layer, whose `attend` this one is. */
  get returnsLse(): boolean {
    return this.source.returnsLse ?? false;
  }

  /** The tokens this layer attends over: its source's. */
  get length(): number {
    return this.source.length;
  }

  /** Checks the call like any layer, then drops the keys and values: the source layer has this token's. */
  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    validateAppend(this, k, v, step);
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    return this.source.attend(q, options);
  }

  /** Nothing is resident here (the source layer reports the shared bytes once). */
  memory(): MemoryReport {
    return memoryReport({}, this.source.length);
  }

  dispose(): void {
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`shared cache layer ${this.layerIndex}`);
  }
}
