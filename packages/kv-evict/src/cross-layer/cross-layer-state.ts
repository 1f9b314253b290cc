import { type CacheLayerFactory, InvalidConfigError, type KVCacheLayer, type LayerObservation, type LayerSpec } from '@kvkit/tensor-core';
import { type AllocationContext, capWeights, type LayerAllocator, type LayerSignal } from '../allocators/allocator.js';

/** A cache layer as the cross-layer state drives it. */
export interface CoordinatedLayer {
  readonly layerIndex: number;
  /** The layer's per-head importance distribution (for allocators that need scores). */
  allocationSignal(): LayerSignal;
  /** Sets the layer's budget weight; `source` says where it came from. */
  setWeight(weight: number, source: string): void;
  /** Scored budget per head at weight 1, and the largest weight the layer can use now. */
  budgetShape(): { scored: number; maxWeight: number };
  /** Compresses if the layer's trigger says so for this phase. */
  maybeCompress(phase: 'prefill' | 'decode'): void;
  /** Compresses to the current budget now. */
  compressNow(): void;
}

export interface CrossLayerOptions {
  /** Sets every layer's budget weight. */
  allocator?: LayerAllocator;
  /** Defer prefill compression to the end of each pass even without a signal allocator. */
  deferPrefill?: boolean;
}

/**
 * The object the layers of ONE cache share, for methods that look across layers: layer budget
 * allocators (PyramidKV, SqueezeAttention, DynamicKV, ZigZagKV, D2O's layer level), ChunkKV's
 * index reuse, MiniCache's adjacent-layer merging. `crossLayerFactory` makes one per cache.
 *
 * Allocation timing: static allocators set weights when the layers are built. Allocators that need
 * signals defer compression during a prefill pass until every layer has attended (the cache briefly
 * holds the whole pass, as kvpress does), then allocate and compress all layers; DynamicKV also
 * reallocates among the layers seen so far every `layerInterval` layers, and while decoding every
 * `reallocateEvery` steps. Hidden-state signals (SqueezeAttention) arrive through the layers'
 * `observeLayer`, the optional hook of tensor-core's KV-cache contract that a runtime such as
 * @kvkit/llm calls after each layer has attended.
 */
export class CrossLayerState {
  private readonly layers: CoordinatedLayer[] = [];
  private readonly pending = new Set<CoordinatedLayer>();
  private readonly sharedValues = new Map<string, unknown>();
  private readonly cosines: (number | undefined)[];
  private hiddenHook = false;
  private waitingForHidden = false;
  private decodeSteps = 0;

  readonly allocator?: LayerAllocator;
  private readonly deferPrefill: boolean;
  private readonly passEnd: ((state: CrossLayerState) => void)[] = [];

  constructor(
    readonly numLayers: number,
    options: CrossLayerOptions = {},
  ) {
    this.allocator = options.allocator;
    this.deferPrefill = (options.allocator !== undefined && options.allocator.needs !== 'none') || (options.deferPrefill ?? false);
    this.cosines = new Array(numLayers).fill(undefined);
  }

  /** Runs `callback` at the end of each prefill pass, before the deferred layers compress (RazorAttention picks its heads there). */
  onPassEnd(callback: (state: CrossLayerState) => void): void {
    this.passEnd.push(callback);
  }

  /** Called by each layer when it is built, in layer order. */
  register(layer: CoordinatedLayer): void {
    if (layer.layerIndex !== this.layers.length) {
      throw new InvalidConfigError(
        `cross-layer method: layer ${layer.layerIndex} was built out of order (expected layer ${this.layers.length}); build caches with createCache`,
      );
    }
    this.layers.push(layer);
    if (this.layers.length === this.numLayers && this.allocator?.needs === 'none') this.reallocate(this.layers, 'static schedule');
  }

  /** Per-cache values shared between a method's layers (ChunkKV's kept positions, MiniCache's pairs). */
  shared<T>(key: string, create: () => T): T {
    if (!this.sharedValues.has(key)) this.sharedValues.set(key, create());
    return this.sharedValues.get(key) as T;
  }

  /** The mean hidden-state cosine of a layer in the last pass that reported hidden states. */
  hiddenCosine(layerIndex: number): number | undefined {
    return this.cosines[layerIndex];
  }

  /** A layer finished attending: compress now or wait for the rest of the pass. */
  attended(layer: CoordinatedLayer, phase: 'prefill' | 'decode'): void {
    const allocator = this.allocator;
    if (!this.deferPrefill) {
      layer.maybeCompress(phase);
      return;
    }
    const last = layer.layerIndex === this.numLayers - 1;
    if (phase === 'decode') {
      layer.maybeCompress(phase);
      if (last && allocator) {
        this.decodeSteps++;
        if (allocator.reallocateEvery > 0 && this.decodeSteps % allocator.reallocateEvery === 0) {
          this.reallocate(this.layers, `reallocated at decode step ${this.decodeSteps}`);
          for (const l of this.layers) l.compressNow();
        }
      }
      return;
    }
    this.pending.add(layer);
    const seen = layer.layerIndex + 1;
    if (!last && allocator && allocator.layerInterval > 0 && seen % allocator.layerInterval === 0) {
      const sofar = this.layers.slice(0, seen);
      this.reallocate(sofar, `reallocated among layers 0..${layer.layerIndex}`);
      for (const l of sofar) l.compressNow();
    }
    if (!last) return;
    if (allocator?.needs === 'hidden' && this.hiddenHook) {
      this.waitingForHidden = true; // the last layer's hidden state arrives after its attention
      return;
    }
    this.finishPass();
  }

  /**
   * A layer's observation from the runtime (see the class comment): during a prefill pass, the mean
   * over its rows of the cosine between the layer's hidden state before and after attention.
   */
  observeLayer(layerIndex: number, observation: LayerObservation): void {
    this.hiddenHook = true;
    if (observation.phase !== 'prefill') return;
    const cosines = observation.cosine.readFloat32Sync();
    let total = 0;
    for (const c of cosines) total += c;
    this.cosines[layerIndex] = cosines.length > 0 ? total / cosines.length : undefined;
    if (layerIndex === this.numLayers - 1 && this.waitingForHidden) {
      this.waitingForHidden = false;
      this.finishPass();
    }
  }

  private finishPass(): void {
    this.reallocate(this.layers, 'allocated after the prefill pass');
    for (const callback of this.passEnd) callback(this);
    for (const l of this.layers) if (this.pending.has(l)) l.compressNow();
    this.pending.clear();
  }

  private reallocate(layers: readonly CoordinatedLayer[], source: string): void {
    const allocator = this.allocator;
    if (!allocator || layers.length === 0) return;
    const signals = layers.map((l) => {
      const signal = allocator.needs === 'scores' ? l.allocationSignal() : { layerIndex: l.layerIndex, scores: [] };
      return { ...signal, hiddenCosine: this.cosines[l.layerIndex] };
    });
    const shapes = layers.map((l) => l.budgetShape());
    const context: AllocationContext = {
      numLayers: this.numLayers,
      kvHeads: signals[0].scores.length,
      scoredBudget: shapes.reduce((s, x) => s + x.scored, 0) / shapes.length,
    };
    const maxWeight = Math.min(...shapes.map((s) => s.maxWeight));
    const allocation = allocator.allocate(signals, context);
    const weights = capWeights(allocation.weights, maxWeight);
    const note = allocation.note ? `${source}; ${allocation.note}` : source;
    layers.forEach((l, i) => l.setWeight(weights[i], `${allocator.name}: ${note}`));
  }
}

/**
 * A factory whose layers share one `CrossLayerState` per cache: building layer 0 starts a new state,
 * later layers join it (createCache builds layers in order). `build` makes one layer.
 */
export function crossLayerFactory(build: (spec: LayerSpec, state: CrossLayerState) => KVCacheLayer, options: CrossLayerOptions = {}): CacheLayerFactory {
  let state: CrossLayerState | undefined;
  return (spec) => {
    if (spec.layerIndex === 0) state = new CrossLayerState(spec.numLayers, options);
    if (!state || state.numLayers !== spec.numLayers) {
      throw new InvalidConfigError(`cross-layer method: layer ${spec.layerIndex} built before layer 0 of its cache; build caches with createCache`);
    }
    return build(spec, state);
  };
}
