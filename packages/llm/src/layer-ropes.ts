import { type Backend, cast, ropeAttentionFactor, ropeInverseFrequencies, type Tensor, tensor } from '@kvkit/tensor-core';
import { type LlamaConfig, layerWindow } from './config.js';

/** How one layer rotates its queries and keys in a forward pass. */
export interface LayerRope {
  /** f32 [rotaryDim / 2]: the layer's inverse frequencies; absent on a NoPE layer, which rotates nothing. */
  invFreq?: Tensor;
  /**
   * [headDim] in the model's dtype: YaRN's or LongRoPE's attention factor squared on the rotated
   * channels, 1 on the others; absent where there is no such factor. HF scales the rotated
   * channels of queries and keys by the factor each; scores only see their product, so the
   * queries take it twice and the cached keys stay as RoPE leaves them.
   */
  queryGain?: Tensor;
  /**
   * [headDim]: a gain on the rotated channels of this pass's keys, where the factor differs by pass
   * (Phi-3.5-MoE's long_mscale beyond the original context, its short_mscale within): HF scales each
   * pass's keys by that pass's factor, so cached keys keep the factor of the pass that wrote them.
   * Keys of passes within the original context take none; `queryGain` then carries the rest.
   */
  keyGain?: Tensor;
}

/**
 * Each layer's rotary embedding, decided once from the config: the model's frequencies (scaled as
 * rope_scaling says; partial rotary rotates the first `rotaryDim` channels), the sliding layers'
 * own rope where the model gives them one (Gemma 3's base, OLMo 3's; no scaling, no factor), zeros
 * on a NoPE layer. LongRoPE takes its long factors for a pass that reaches beyond the original
 * context, and dynamic NTK a base grown for the length such a pass reaches, as transformers decides
 * per pass.
 */
export class LayerRopes {
  /** Each layer's frequencies within the original context (layers of one kind share one array). */
  readonly layerFrequencies: Float32Array[];
  /** The model's own frequencies (its global layers'). */
  readonly globalFrequencies: Float32Array;
  /** The context beyond which the model's frequencies change per pass (LongRoPE's, dynamic NTK's original one); Infinity for other scalings. */
  readonly originalContext: number = Infinity;
  /** What changes beyond `originalContext` (for messages). */
  readonly beyondOriginal?: string;
  /**
   * Beyond the original context: the model's frequencies for a pass reaching a length, and the key
   * they change with (LongRoPE's long factors: never; dynamic NTK's base: with the length).
   */
  private readonly beyond?: { frequencies: (sequenceLength: number) => Float32Array; key: (sequenceLength: number) => number };
  /** The last frequencies used beyond the original context, on the backend. */
  private current?: { key: number; model: Float32Array; perLayer: Float32Array[]; tensor: Tensor };
  /** The frequencies on the backend, one tensor per distinct array. */
  private readonly tensors = new Map<Float32Array, Tensor>();
  private readonly queryGain?: Tensor;
  /**
   * Beyond the original context where the factor changes there (long m against short s): queries
   * take m·s and keys m/s, so that a score takes m_query · m_key whichever passes wrote its keys.
   */
  private readonly longGains?: { query: Tensor; key: Tensor };
  /** The layers the scaling (and its attention factor) applies to: those on the model's frequencies. */
  private readonly scaledLayers: boolean[];
  /** Each layer's frequencies with `model` as the model's own (local and NoPE layers keep theirs). */
  private readonly perLayer: (model: Float32Array) => Float32Array[];
  private readonly backend: Backend;

  constructor(config: LlamaConfig, backend: Backend, dtype: 'f32' | 'f16') {
    const { rotaryDim, ropeTheta, ropeScaling, numLayers } = config;
    const global = ropeInverseFrequencies(rotaryDim, ropeTheta, ropeScaling);
    const local = config.localRopeTheta === undefined ? undefined : ropeInverseFrequencies(rotaryDim, config.localRopeTheta);
    const none = new Float32Array(global.length);
    const kind = (i: number) => (config.noRopeLayers.includes(i) ? 'none' : local && layerWindow(config, i) !== undefined ? 'local' : 'global');
    this.perLayer = (model) => Array.from({ length: numLayers }, (_, i) => ({ none, local, global: model })[kind(i)] as Float32Array);
    this.globalFrequencies = global;
    this.layerFrequencies = this.perLayer(global);
    this.backend = backend;
    this.scaledLayers = Array.from({ length: numLayers }, (_, i) => kind(i) === 'global');
    if (ropeScaling.type === 'longrope' || ropeScaling.type === 'dynamic') {
      const longrope = ropeScaling.type === 'longrope';
      this.originalContext = ropeScaling.originalMaxPositionEmbeddings;
      this.beyondOriginal = longrope ? 'LongRoPE rotates with its long factors' : 'dynamic NTK rotates with a base grown for each length';
      this.beyond = {
        frequencies: (sequenceLength) => ropeInverseFrequencies(rotaryDim, ropeTheta, ropeScaling, sequenceLength),
        key: (sequenceLength) => (longrope ? 0 : sequenceLength),
      };
    }
    // NoPE layers' zeros stay on the host (for cache specs): those layers do not rotate at all.
    for (const frequencies of new Set([global, ...this.layerFrequencies])) {
      if (frequencies !== none) this.tensors.set(frequencies, tensor(frequencies, [frequencies.length], { dtype: 'f32', backend }));
    }
    // The rotated channels times `factor`, the others as they are, in the model's dtype.
    const gain = (factor: number): Tensor => {
      const f32 = tensor(new Float32Array(config.headDim).fill(1).fill(factor, 0, rotaryDim), [config.headDim], { dtype: 'f32', backend });
      if (dtype === 'f32') return f32;
      const cast16 = cast(f32, dtype);
      f32.dispose();
      return cast16;
    };
    const factor = ropeAttentionFactor(ropeScaling);
    if (factor !== 1) this.queryGain = gain(factor * factor);
    const long = ropeScaling.type === 'longrope' ? ropeScaling.longAttentionFactor : undefined;
    if (long !== undefined && long !== factor) this.longGains = { query: gain(long * factor), key: gain(long / factor) };
  }

  /** Whether a pass reaching `sequenceLength` (its largest position + 1) rotates with other frequencies than `layerFrequencies`. */
  beyondOriginalContext(sequenceLength: number): boolean {
    return sequenceLength > this.originalContext;
  }

  /** Each layer's rope for a pass reaching `sequenceLength`. */
  forPass(sequenceLength: number): (layer: number) => LayerRope {
    const beyond = this.beyondOriginalContext(sequenceLength) ? this.beyondFor(sequenceLength) : undefined;
    const frequencies = beyond?.perLayer ?? this.layerFrequencies;
    const tensorOf = (f: Float32Array) => (f === beyond?.model ? beyond.tensor : this.tensors.get(f));
    const gains = beyond && this.longGains ? { queryGain: this.longGains.query, keyGain: this.longGains.key } : this.queryGain ? { queryGain: this.queryGain } : {};
    return (layer) => {
      const invFreq = tensorOf(frequencies[layer]);
      return { ...(invFreq ? { invFreq } : {}), ...(this.scaledLayers[layer] ? gains : {}) };
    };
  }

  /** The model's frequencies beyond the original context, uploaded once per key (the previous key's released). */
  private beyondFor(sequenceLength: number): { model: Float32Array; perLayer: Float32Array[]; tensor: Tensor } {
    const key = this.beyond!.key(sequenceLength);
    if (this.current?.key === key) return this.current;
    const model = this.beyond!.frequencies(sequenceLength);
    this.current?.tensor.dispose();
    this.current = { key, model, perLayer: this.perLayer(model), tensor: tensor(model, [model.length], { dtype: 'f32', backend: this.backend }) };
    return this.current;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.current?.tensor.dispose();
    this.queryGain?.dispose();
    this.longGains?.query.dispose();
    this.longGains?.key.dispose();
  }
}
