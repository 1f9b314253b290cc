import { InvalidConfigError, type RotaryEmbedding, ShapeMismatchError, type Tensor, rope, tensor } from '@kvkit/tensor-core';
import { KVCalibration } from './calibration.js';

export interface CollectorOptions {
  numLayers: number;
  kvHeads: number;
  headDim: number;
  qHeads?: number;
  rope?: RotaryEmbedding;
  /** One rope per layer where the layers' differ (`CacheSpec.layerRopes`: Gemma 3's local layers, NoPE layers' zero frequencies). */
  layerRopes?: readonly RotaryEmbedding[];
  /** Tokens kept per layer (default 2048); later tokens are ignored. */
  maxTokens?: number;
  /** Keep a stride of tokens: 1 = every token until the cap (default), k = every k-th token. */
  stride?: number;
}

/** One layer's activations for a chunk of tokens, as a model's forward pass produces them. */
export interface LayerActivations {
  /** Pre-RoPE keys [kvHeads, n, headDim]. */
  keys: Tensor;
  values: Tensor;
  positions: Int32Array;
  /** Pre-RoPE queries [qHeads, n, headDim] (optional: sensitivity weights). */
  queries?: Tensor;
}

/**
 * What a model runtime reports per layer during a forward pass: @kvkit/llm's `onLayer` event (any
 * runtime can build it). Queries come after RoPE, keys before, as the model computes them.
 */
export interface ModelLayerEvent {
  layerIndex: number;
  positions: Int32Array;
  /** [kvHeads, n, headDim]: keys before RoPE. */
  keyPreRope: Tensor;
  /** [kvHeads, n, headDim]. */
  value: Tensor;
  /** [qHeads, n, headDim]: queries after RoPE (kept when the collector has `qHeads`). */
  q?: Tensor;
}

/**
 * Collects calibration samples layer by layer while a model runs over calibration text (hook it to
 * @kvkit/llm's per-layer callback), keeping every `stride`-th token until `maxTokens` per layer.
 */
export class KVCalibrationCollector {
  private readonly keys: number[][][];
  private readonly values: number[][][];
  private readonly queries: number[][][];
  private readonly positions: number[][];
  private readonly seen: number[];
  private readonly maxTokens: number;
  private readonly stride: number;

  constructor(readonly options: CollectorOptions) {
    const { numLayers, kvHeads, headDim } = options;
    this.maxTokens = options.maxTokens ?? 2048;
    this.stride = options.stride ?? 1;
    for (const [name, v] of [
      ['numLayers', numLayers],
      ['kvHeads', kvHeads],
      ['headDim', headDim],
      ['maxTokens', this.maxTokens],
      ['stride', this.stride],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new InvalidConfigError(`KVCalibrationCollector: ${name} must be a positive integer, got ${v}`);
    }
    const perHead = (heads: number) => Array.from({ length: numLayers }, () => Array.from({ length: heads }, () => [] as number[]));
    this.keys = perHead(kvHeads);
    this.values = perHead(kvHeads);
    this.queries = perHead(options.qHeads ?? 0);
    this.positions = Array.from({ length: numLayers }, () => []);
    this.seen = new Array(numLayers).fill(0);
  }

  /** Tokens kept so far for `layer`. */
  tokens(layer: number): number {
    return this.positions[layer]?.length ?? 0;
  }

  /**
   * Adds a model's per-layer event as it comes (`model.forward(ids, cache, { onLayer: (e) => collector.add(e) })`).
   * Queries are rotated back to pre-RoPE with the layer's rope (`layerRopes`, else `rope`), which
   * KVQuant's sensitivity weights need; without `qHeads` the event's queries are ignored.
   */
  add(event: ModelLayerEvent): void {
    const { qHeads } = this.options;
    const modelRope = this.options.layerRopes?.[event.layerIndex] ?? this.options.rope;
    if (!qHeads || !event.q) {
      this.observe(event.layerIndex, { keys: event.keyPreRope, values: event.value, positions: event.positions });
      return;
    }
    if (!modelRope) {
      throw new InvalidConfigError("KVCalibrationCollector.add: the event's queries are post-RoPE; give the collector the model's rope to rotate them back");
    }
    const backend = event.q.backend;
    const invFreq = tensor(modelRope.invFreq, [modelRope.invFreq.length], { backend });
    const back = tensor(Int32Array.from(event.positions, (p) => -p), [event.positions.length], { backend });
    const queries = rope(event.q, back, invFreq, modelRope.layout);
    try {
      this.observe(event.layerIndex, { keys: event.keyPreRope, values: event.value, positions: event.positions, queries });
    } finally {
      queries.dispose();
      back.dispose();
      invFreq.dispose();
    }
  }

  observe(layer: number, activations: LayerActivations): void {
    const { kvHeads, headDim: d, qHeads } = this.options;
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.options.numLayers) {
      throw new InvalidConfigError(`KVCalibrationCollector: layer ${layer} is outside 0…${this.options.numLayers - 1}`);
    }
    const n = activations.positions.length;
    const check = (name: string, t: Tensor, heads: number) => {
      if (t.rank !== 3 || t.shape[0] !== heads || t.shape[1] !== n || t.shape[2] !== d) {
        throw new ShapeMismatchError(`KVCalibrationCollector: ${name} must be [${heads}, ${n}, ${d}], got [${t.shape.join(', ')}]`);
      }
    };
    check('keys', activations.keys, kvHeads);
    check('values', activations.values, kvHeads);
    if (activations.queries) {
      if (!qHeads) throw new InvalidConfigError('KVCalibrationCollector: queries need the qHeads option');
      check('queries', activations.queries, qHeads);
    }
    const picked: number[] = [];
    for (let t = 0; t < n && this.positions[layer].length + picked.length < this.maxTokens; t++) {
      if ((this.seen[layer] + t) % this.stride === 0) picked.push(t);
    }
    this.seen[layer] += n;
    if (picked.length === 0) return;
    const take = (t: Tensor, into: number[][], heads: number) => {
      const data = t.readFloat32Sync();
      for (let h = 0; h < heads; h++) for (const i of picked) for (let c = 0; c < d; c++) into[h].push(data[(h * n + i) * d + c]);
    };
    take(activations.keys, this.keys[layer], kvHeads);
    take(activations.values, this.values[layer], kvHeads);
    if (activations.queries && qHeads) take(activations.queries, this.queries[layer], qHeads);
    for (const i of picked) this.positions[layer].push(activations.positions[i]);
  }

  finish(): KVCalibration {
    const flat = (heads: number[][]) => Float32Array.from(heads.flat());
    return KVCalibration.fromSamples({
      kvHeads: this.options.kvHeads,
      headDim: this.options.headDim,
      qHeads: this.options.qHeads,
      rope: this.options.rope,
      layerRopes: this.options.layerRopes,
      layers: this.positions.map((positions, layer) =>
        positions.length === 0
          ? undefined
          : {
              keys: flat(this.keys[layer]),
              values: flat(this.values[layer]),
              positions: Int32Array.from(positions),
              queries: this.queries[layer].length && this.queries[layer][0].length ? flat(this.queries[layer]) : undefined,
            }
      ),
    });
  }
}
