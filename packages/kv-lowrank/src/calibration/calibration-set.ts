import {
  CorruptModelFileError,
  IndexOutOfRangeError,
  InvalidConfigError,
  type Matrix,
  matrix,
  type RopeLayout,
  type RotaryEmbedding,
  ShapeMismatchError,
  Tensor,
  formatShape,
  isFloatDType,
} from '@kvkit/tensor-core';
import { base64ToTypedArray, typedArrayToBase64 } from '../io/base64.js';

/**
 * What one decoder layer computed during a calibration forward pass: the event shape of
 * `model.forward(ids, cache, { onLayer })` in @kvkit/llm (other runtimes can build it by hand).
 * Heads-first layouts, as the KV-cache contract uses them.
 */
export interface CalibrationActivations {
  layerIndex?: number;
  /** [n, hiddenSize]: the layer's input (kept only when the set was made with `keepHidden`). */
  hidden?: Tensor;
  /** [qHeads, n, headDim]: queries after RoPE. */
  q?: Tensor;
  /** [kvHeads, n, headDim]: keys before RoPE. */
  keyPreRope?: Tensor;
  /** [kvHeads, n, headDim]: keys after RoPE. */
  key?: Tensor;
  /** [kvHeads, n, headDim]. */
  value: Tensor;
}

/** The sample kinds a set can hold. */
export type ActivationKind = 'key' | 'keyPreRope' | 'value' | 'query' | 'hidden';

const EVENT_FIELD: Record<ActivationKind, keyof CalibrationActivations> = {
  key: 'key',
  keyPreRope: 'keyPreRope',
  value: 'value',
  query: 'q',
  hidden: 'hidden',
};

/** A weight matrix as a float64 `Matrix` or a 2-D tensor (read once, to float64). */
export type WeightInput = Matrix | Tensor;

/** The attention projections of one layer in Hugging Face layout [out, in]. */
export interface ProjectionWeights {
  /** [kvHeads·headDim, hidden] */
  k?: Matrix;
  /** [kvHeads·headDim, hidden] */
  v?: Matrix;
  /** [qHeads·headDim, hidden] */
  q?: Matrix;
  /** [hidden, qHeads·headDim] */
  o?: Matrix;
}

export interface ModelShape {
  numLayers: number;
  qHeads: number;
  kvHeads: number;
  headDim: number;
  /** The model's rotary embedding (needed by RoPE-aware fits: head merging, MHA2MLA). */
  rope?: RotaryEmbedding;
}

export interface KVCalibrationOptions extends ModelShape {
  /** Tokens kept per layer; later tokens are not accepted (default 2048). */
  maxTokens?: number;
  /** Keep the layers' hidden inputs too (default false: they are large and no fit here needs them). */
  keepHidden?: boolean;
}

interface LayerSamples {
  tokens: number;
  chunks: Map<ActivationKind, Float32Array[]>;
  joined: Map<ActivationKind, Float32Array>;
  weights: ProjectionWeights;
  hiddenSize?: number;
}

const FILE = 'kv calibration set';

/**
 * Activations of a model on calibration text, per layer: keys (pre- and post-RoPE), values,
 * queries and optionally hidden inputs, as [heads, n, headDim] samples, plus the layer's projection
 * weights when given. Fits (PCA, SVD, head merging, layer similarity) read from it; it serializes
 * with `toJSON()` / `KVCalibrationSet.load()` so a model is run over its calibration text once.
 *
 * Every layer sees the same tokens in the same order (the first `maxTokens` of each forward pass
 * stream), so samples are aligned across layers.
 */
export class KVCalibrationSet {
  readonly numLayers: number;
  readonly qHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly maxTokens: number;
  readonly keepHidden: boolean;
  readonly rope?: RotaryEmbedding;
  private readonly layers: LayerSamples[];
  /** The kinds every event must carry, fixed by the first event. */
  private kinds?: ActivationKind[];

  constructor(options: KVCalibrationOptions) {
    for (const key of ['numLayers', 'qHeads', 'kvHeads', 'headDim'] as const) {
      if (!Number.isInteger(options[key]) || options[key] <= 0) {
        throw new InvalidConfigError(`KVCalibrationSet: ${key} must be a positive integer, got ${options[key]}`);
      }
    }
    if (options.qHeads % options.kvHeads !== 0) {
      throw new InvalidConfigError(`KVCalibrationSet: ${options.qHeads} query heads are not a multiple of ${options.kvHeads} KV heads`);
    }
    const maxTokens = options.maxTokens ?? 2048;
    if (!Number.isInteger(maxTokens) || maxTokens <= 0) throw new InvalidConfigError(`KVCalibrationSet: maxTokens must be a positive integer, got ${maxTokens}`);
    if (options.rope) {
      const { invFreq, layout } = options.rope;
      if (!(invFreq instanceof Float32Array) || invFreq.length === 0 || 2 * invFreq.length > options.headDim) {
        throw new InvalidConfigError(`KVCalibrationSet: rope.invFreq must be a Float32Array of 1..${options.headDim / 2} frequencies`);
      }
      if (layout !== 'half' && layout !== 'interleaved') throw new InvalidConfigError(`KVCalibrationSet: rope.layout must be 'half' or 'interleaved', got ${String(layout)}`);
      this.rope = { invFreq: Float32Array.from(invFreq), layout };
    }
    this.numLayers = options.numLayers;
    this.qHeads = options.qHeads;
    this.kvHeads = options.kvHeads;
    this.headDim = options.headDim;
    this.maxTokens = maxTokens;
    this.keepHidden = options.keepHidden ?? false;
    this.layers = Array.from({ length: this.numLayers }, () => ({
      tokens: 0,
      chunks: new Map(),
      joined: new Map(),
      weights: {},
    }));
  }

  /** The kinds of samples this set holds (fixed by the first `add`). */
  get sampleKinds(): readonly ActivationKind[] {
    return this.kinds ?? [];
  }

  /**
   * Adds one layer's activations (`add(event)` with `event.layerIndex`, or `add(layer, event)`).
   * Returns how many of the event's tokens were kept (0 once the layer holds `maxTokens`).
   * Checks everything before storing anything.
   */
  add(layerOrEvent: number | CalibrationActivations, maybeEvent?: CalibrationActivations): number {
    const event = typeof layerOrEvent === 'number' ? maybeEvent : layerOrEvent;
    if (!event || typeof event !== 'object') throw new InvalidConfigError('KVCalibrationSet.add: expected an activations event');
    const layerIndex = typeof layerOrEvent === 'number' ? layerOrEvent : event.layerIndex;
    this.assertLayer(layerIndex, 'add');
    const kinds = this.kinds ?? this.kindsOf(event);
    const present = this.kindsOf(event);
    if (present.join() !== kinds.join()) {
      throw new InvalidConfigError(`KVCalibrationSet.add: this set holds ${kinds.join(', ')} but the event carries ${present.join(', ')}`);
    }
    const n = this.checkEvent(event, kinds);
    const layer = this.layers[layerIndex as number];
    const keep = Math.min(n, this.maxTokens - layer.tokens);
    if (keep <= 0) return 0;
    const copies = new Map<ActivationKind, Float32Array>();
    for (const kind of kinds) copies.set(kind, this.firstTokens(event[EVENT_FIELD[kind]] as Tensor, kind, n, keep));
    this.kinds = kinds;
    if (event.hidden && this.keepHidden) layer.hiddenSize = event.hidden.shape[1];
    for (const [kind, data] of copies) {
      const list = layer.chunks.get(kind) ?? [];
      list.push(data);
      layer.chunks.set(kind, list);
      layer.joined.delete(kind);
    }
    layer.tokens += keep;
    return keep;
  }

  /** Stores the layer's projection weights (HF layout [out, in]) for weight-based fits (Palu, MHA2MLA). */
  setWeights(layerIndex: number, given: Partial<Record<keyof ProjectionWeights, WeightInput>>): void {
    this.assertLayer(layerIndex, 'setWeights');
    const weights: ProjectionWeights = {};
    for (const name of ['k', 'v', 'q', 'o'] as const) {
      const w = given[name];
      if (w) weights[name] = w instanceof Tensor ? tensorToMatrix(w, `W_${name}`) : w;
    }
    const { kvHeads, qHeads, headDim } = this;
    const known = { ...this.layers[layerIndex].weights, ...weights };
    const hidden = known.k?.cols ?? known.v?.cols ?? known.q?.cols ?? known.o?.rows;
    const expect: [keyof ProjectionWeights, number, number | undefined][] = [
      ['k', kvHeads * headDim, hidden],
      ['v', kvHeads * headDim, hidden],
      ['q', qHeads * headDim, hidden],
    ];
    for (const [name, rows, cols] of expect) {
      const w = weights[name];
      if (w && (w.rows !== rows || w.cols !== cols || w.data.length !== rows * w.cols)) {
        throw new ShapeMismatchError(`KVCalibrationSet.setWeights: W_${name} must be [${rows}, hidden=${cols}], got [${w.rows}, ${w.cols}]`);
      }
    }
    const o = weights.o;
    if (o && (o.rows !== hidden || o.cols !== qHeads * headDim || o.data.length !== o.rows * o.cols)) {
      throw new ShapeMismatchError(`KVCalibrationSet.setWeights: W_o must be [hidden=${hidden}, ${qHeads * headDim}], got [${o.rows}, ${o.cols}]`);
    }
    for (const [name, w] of Object.entries(weights) as [string, Matrix | undefined][]) {
      if (w && w.data.some((x) => !Number.isFinite(x))) throw new InvalidConfigError(`KVCalibrationSet.setWeights: W_${name} has a non-finite entry`);
    }
    const copy: ProjectionWeights = {};
    for (const name of ['k', 'v', 'q', 'o'] as const) {
      const w = weights[name];
      if (w) copy[name] = given[name] instanceof Tensor ? w : matrix(w.rows, w.cols, w.data); // a caller-owned Matrix is copied
    }
    this.layers[layerIndex].weights = { ...this.layers[layerIndex].weights, ...copy };
  }

  /** The stored projection weights of a layer (possibly none). */
  weights(layerIndex: number): ProjectionWeights {
    this.assertLayer(layerIndex, 'weights');
    return this.layers[layerIndex].weights;
  }

  /** Tokens stored for a layer. */
  tokens(layerIndex: number): number {
    this.assertLayer(layerIndex, 'tokens');
    return this.layers[layerIndex].tokens;
  }

  has(kind: ActivationKind): boolean {
    return (this.kinds ?? []).includes(kind);
  }

  /**
   * All samples of `kind` for a layer, heads-first: [heads, tokens, width] row-major (width is
   * headDim, or hiddenSize for 'hidden' with heads = 1).
   */
  samples(layerIndex: number, kind: ActivationKind): Float32Array {
    this.assertLayer(layerIndex, 'samples');
    const layer = this.layers[layerIndex];
    if (!this.has(kind) || layer.tokens === 0) {
      throw new InvalidConfigError(`KVCalibrationSet: layer ${layerIndex} holds no ${kind} samples (it holds ${this.kinds?.join(', ') || 'nothing yet'})`);
    }
    const cached = layer.joined.get(kind);
    if (cached) return cached;
    const heads = this.headsOf(kind);
    const width = kind === 'hidden' ? (layer.hiddenSize as number) : this.headDim;
    const out = new Float32Array(heads * layer.tokens * width);
    let t0 = 0;
    for (const chunk of layer.chunks.get(kind) ?? []) {
      const n = chunk.length / (heads * width);
      for (let h = 0; h < heads; h++) out.set(chunk.subarray(h * n * width, (h + 1) * n * width), (h * layer.tokens + t0) * width);
      t0 += n;
    }
    layer.joined.set(kind, out);
    return out;
  }

  /** A JSON-safe snapshot (sample data as base64 little-endian f32, weights as f64). */
  toJSON(): CalibrationSetJson {
    return {
      format: 'kvkit-kv-calibration',
      version: 1,
      numLayers: this.numLayers,
      qHeads: this.qHeads,
      kvHeads: this.kvHeads,
      headDim: this.headDim,
      maxTokens: this.maxTokens,
      keepHidden: this.keepHidden,
      rope: this.rope ? { invFreq: Array.from(this.rope.invFreq), layout: this.rope.layout } : undefined,
      kinds: [...(this.kinds ?? [])],
      layers: this.layers.map((layer, i) => ({
        tokens: layer.tokens,
        hiddenSize: layer.hiddenSize,
        samples: Object.fromEntries((layer.tokens > 0 ? (this.kinds ?? []) : []).map((kind) => [kind, typedArrayToBase64(this.samples(i, kind))])),
        weights: Object.fromEntries(
          Object.entries(layer.weights).map(([name, w]) => [name, { rows: w.rows, cols: w.cols, data: typedArrayToBase64(w.data) }]),
        ),
      })),
    };
  }

  /** Rebuilds a set from `toJSON()` output; malformed input throws CorruptModelFileError. */
  static load(json: unknown): KVCalibrationSet {
    const j = json as Partial<CalibrationSetJson>;
    if (!j || j.format !== 'kvkit-kv-calibration' || j.version !== 1) {
      throw new CorruptModelFileError(FILE, 'not a kvkit-kv-calibration version 1 document');
    }
    let set: KVCalibrationSet;
    try {
      set = new KVCalibrationSet({
        numLayers: j.numLayers as number,
        qHeads: j.qHeads as number,
        kvHeads: j.kvHeads as number,
        headDim: j.headDim as number,
        maxTokens: j.maxTokens,
        keepHidden: j.keepHidden,
        rope: j.rope ? { invFreq: Float32Array.from(j.rope.invFreq), layout: j.rope.layout } : undefined,
      });
    } catch (error) {
      throw new CorruptModelFileError(FILE, (error as Error).message);
    }
    const kinds = j.kinds ?? [];
    if (!Array.isArray(kinds) || kinds.some((k) => !(k in EVENT_FIELD))) throw new CorruptModelFileError(FILE, `unknown sample kinds ${JSON.stringify(kinds)}`);
    if (!Array.isArray(j.layers) || j.layers.length !== set.numLayers) throw new CorruptModelFileError(FILE, `expected ${set.numLayers} layers`);
    if (kinds.length > 0) set.kinds = kinds;
    j.layers.forEach((raw, i) => {
      const layer = set.layers[i];
      const tokens = raw.tokens;
      if (!Number.isInteger(tokens) || tokens < 0 || tokens > set.maxTokens) throw new CorruptModelFileError(FILE, `layer ${i}: bad token count ${tokens}`);
      if (tokens > 0) {
        if (kinds.includes('hidden') && !(Number.isInteger(raw.hiddenSize) && (raw.hiddenSize as number) > 0)) {
          throw new CorruptModelFileError(FILE, `layer ${i}: hidden samples without a hiddenSize`);
        }
        layer.hiddenSize = raw.hiddenSize;
        for (const kind of kinds) {
          const width = kind === 'hidden' ? (raw.hiddenSize as number) : set.headDim;
          const data = base64ToTypedArray(raw.samples?.[kind], Float32Array, set.headsOf(kind) * tokens * width, FILE, `layer ${i} ${kind} samples`);
          layer.chunks.set(kind, [data]);
        }
        layer.tokens = tokens;
      }
      const weights: ProjectionWeights = {};
      for (const [name, w] of Object.entries(raw.weights ?? {})) {
        if (!['k', 'v', 'q', 'o'].includes(name) || !Number.isInteger(w?.rows) || !Number.isInteger(w?.cols)) {
          throw new CorruptModelFileError(FILE, `layer ${i}: bad weight entry "${name}"`);
        }
        weights[name as keyof ProjectionWeights] = {
          rows: w.rows,
          cols: w.cols,
          data: base64ToTypedArray(w.data, Float64Array, w.rows * w.cols, FILE, `layer ${i} W_${name}`),
        };
      }
      if (Object.keys(weights).length > 0) {
        try {
          set.setWeights(i, weights);
        } catch (error) {
          throw new CorruptModelFileError(FILE, (error as Error).message);
        }
      }
    });
    return set;
  }

  /** Heads of a sample kind: kvHeads for keys/values, qHeads for queries, 1 for hidden states. */
  headsOf(kind: ActivationKind): number {
    if (kind === 'query') return this.qHeads;
    if (kind === 'hidden') return 1;
    return this.kvHeads;
  }

  private kindsOf(event: CalibrationActivations): ActivationKind[] {
    return (Object.keys(EVENT_FIELD) as ActivationKind[]).filter((kind) => event[EVENT_FIELD[kind]] !== undefined && (kind !== 'hidden' || this.keepHidden));
  }

  /** Validates every tensor of the event; returns its token count. */
  private checkEvent(event: CalibrationActivations, kinds: readonly ActivationKind[]): number {
    if (!kinds.includes('value')) throw new InvalidConfigError('KVCalibrationSet.add: the event has no value tensor');
    const n = (event.value as Tensor).shape[1];
    for (const kind of kinds) {
      const t = event[EVENT_FIELD[kind]] as Tensor;
      if (!isFloatDType(t.dtype)) throw new InvalidConfigError(`KVCalibrationSet.add: ${kind} must be a float tensor, got ${t.dtype}`);
      if (kind === 'hidden') {
        if (t.rank !== 2 || t.shape[0] !== n) throw new ShapeMismatchError(`KVCalibrationSet.add: hidden must be [n=${n}, hiddenSize], got ${formatShape(t.shape)}`);
        continue;
      }
      const heads = this.headsOf(kind);
      if (t.rank !== 3 || t.shape[0] !== heads || t.shape[1] !== n || t.shape[2] !== this.headDim) {
        throw new ShapeMismatchError(`KVCalibrationSet.add: ${kind} must be [${heads}, n=${n}, ${this.headDim}], got ${formatShape(t.shape)}`);
      }
    }
    return n;
  }

  /** The first `keep` tokens of a [heads, n, width] (or [n, width]) tensor, as a fresh f32 array. */
  private firstTokens(t: Tensor, kind: ActivationKind, n: number, keep: number): Float32Array {
    const all = t.readFloat32Sync();
    for (let i = 0; i < all.length; i++) {
      if (!Number.isFinite(all[i])) throw new InvalidConfigError(`KVCalibrationSet.add: ${kind} has a non-finite value at index ${i}`);
    }
    const heads = kind === 'hidden' ? 1 : this.headsOf(kind);
    const width = t.shape[t.rank - 1];
    const out = new Float32Array(heads * keep * width);
    for (let h = 0; h < heads; h++) out.set(all.subarray(h * n * width, (h * n + keep) * width), h * keep * width);
    return out;
  }

  private assertLayer(layerIndex: number | undefined, where: string): void {
    if (!Number.isInteger(layerIndex) || (layerIndex as number) < 0 || (layerIndex as number) >= this.numLayers) {
      throw new IndexOutOfRangeError(`KVCalibrationSet.${where}: layer ${layerIndex} is out of range [0, ${this.numLayers})`);
    }
  }
}

function tensorToMatrix(t: Tensor, name: string): Matrix {
  if (t.rank !== 2) throw new ShapeMismatchError(`KVCalibrationSet.setWeights: ${name} must be a 2-D tensor, got ${formatShape(t.shape)}`);
  return matrix(t.shape[0], t.shape[1], t.readFloat32Sync());
}

export interface CalibrationSetJson {
  format: 'kvkit-kv-calibration';
  version: 1;
  numLayers: number;
  qHeads: number;
  kvHeads: number;
  headDim: number;
  maxTokens: number;
  keepHidden: boolean;
  rope?: { invFreq: number[]; layout: RopeLayout };
  kinds: ActivationKind[];
  layers: {
    tokens: number;
    hiddenSize?: number;
    samples: Partial<Record<ActivationKind, string>>;
    weights: Record<string, { rows: number; cols: number; data: string }>;
  }[];
}
