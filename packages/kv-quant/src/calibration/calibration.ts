import { InvalidConfigError, type RopeLayout, type RotaryEmbedding, rope, ShapeMismatchError, type Tensor, tensor } from '@kvkit/tensor-core';
import { CalibrationRequiredError } from '../errors.js';

/** One layer's calibration activations, row-major host arrays. */
export interface LayerSamples {
  /** Tokens sampled. */
  tokens: number;
  /** Pre-RoPE keys [kvHeads, tokens, headDim]. */
  keys: Float32Array;
  /** Values [kvHeads, tokens, headDim]. */
  values: Float32Array;
  /** Absolute positions of the tokens (post-RoPE keys are derived from them). */
  positions: Int32Array;
  /** Pre-RoPE queries [qHeads, tokens, headDim], for sensitivity weights (optional). */
  queries?: Float32Array;
}

/** What `fromSamples` accepts per layer: tensors or arrays; keys before or after RoPE. */
export interface LayerSamplesInput {
  keys: Tensor | Float32Array;
  values: Tensor | Float32Array;
  positions: Int32Array;
  queries?: Tensor | Float32Array;
  /** Whether `keys` (and `queries`) are taken before RoPE (default) or after it. */
  keyInput?: 'pre-rope' | 'post-rope';
}

export interface KVCalibrationInit {
  kvHeads: number;
  headDim: number;
  /** Query heads (needed with queries). */
  qHeads?: number;
  /** The model's rotary embedding: needed to derive post-RoPE keys, or pre-RoPE keys from post-RoPE ones. */
  rope?: RotaryEmbedding;
  /** One rope per layer where the layers' differ (`CacheSpec.layerRopes`; a NoPE layer's has zero frequencies); else `rope` for all. */
  layerRopes?: readonly RotaryEmbedding[];
  /** One entry per model layer (undefined for layers without samples). */
  layers: readonly (LayerSamplesInput | undefined)[];
}

export const CALIBRATION_FORMAT = 'kvkit-kv-calibration';

/** The JSON form: numbers as base64 of little-endian typed arrays. */
export interface KVCalibrationJSON {
  format: typeof CALIBRATION_FORMAT;
  version: 1;
  kvHeads: number;
  qHeads?: number;
  headDim: number;
  rope?: { invFreq: string; layout: RopeLayout };
  layerRopes?: { invFreq: string; layout: RopeLayout }[];
  layers: ({ tokens: number; keys: string; values: string; positions: string; queries?: string } | null)[];
}

function hostFloats(x: Tensor | Float32Array): Float32Array {
  return x instanceof Float32Array ? x : x.readFloat32Sync();
}

function rotate(
  values: Float32Array,
  heads: number,
  n: number,
  d: number,
  positions: Int32Array,
  r: RotaryEmbedding,
  sign: 1 | -1
): Float32Array {
  const x = tensor(values, [heads, n, d]);
  const pos = tensor(
    Int32Array.from(positions, (p) => sign * p),
    [n],
    { dtype: 'i32' }
  );
  const freq = tensor(r.invFreq, [r.invFreq.length]);
  try {
    const out = rope(x, pos, freq, r.layout);
    const data = out.readFloat32Sync();
    out.dispose();
    return data;
  } finally {
    x.dispose();
    pos.dispose();
    freq.dispose();
  }
}

/** Base64 of the bytes of a typed array (btoa exists in browsers and Node ≥ 16). */
function toBase64(a: Float32Array | Int32Array): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function fromBase64<T extends Float32Array | Int32Array>(s: unknown, make: (b: ArrayBuffer) => T, where: string): T {
  if (typeof s !== 'string') throw new InvalidConfigError(`KVCalibration.load: ${where} must be a base64 string`);
  let text: string;
  try {
    text = atob(s);
  } catch {
    throw new InvalidConfigError(`KVCalibration.load: ${where} is not valid base64`);
  }
  if (text.length % 4 !== 0) throw new InvalidConfigError(`KVCalibration.load: ${where} is not a whole number of 4-byte values`);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return make(bytes.buffer);
}

/**
 * Calibration activations of a model: per layer, sampled pre-RoPE keys, values, their positions
 * and optionally the queries (for sensitivity weights). Methods that fit on the model (KVQuant's
 * datatypes and channel ranges, Coupled Quantization's codebooks, RotateKV's channel order, FP8
 * scales) read it. Fill it from @kvkit/llm's per-layer activations with `KVCalibrationCollector`.
 */
export class KVCalibration {
  private constructor(
    readonly kvHeads: number,
    readonly headDim: number,
    readonly qHeads: number | undefined,
    readonly rope: RotaryEmbedding | undefined,
    private readonly samples: readonly (LayerSamples | undefined)[],
    /** Each layer's rope where the layers' differ (see `KVCalibrationInit.layerRopes`). */
    readonly layerRopes?: readonly RotaryEmbedding[]
  ) {}

  /** The rope of `layer`: its own where the layers' differ, else the model's. */
  ropeOf(layer: number): RotaryEmbedding | undefined {
    return this.layerRopes?.[layer] ?? this.rope;
  }

  static fromSamples(init: KVCalibrationInit): KVCalibration {
    const { kvHeads, headDim, qHeads } = init;
    for (const [name, v] of [
      ['kvHeads', kvHeads],
      ['headDim', headDim],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new InvalidConfigError(`KVCalibration: ${name} must be a positive integer, got ${v}`);
    }
    if (qHeads !== undefined && (!Number.isInteger(qHeads) || qHeads % kvHeads !== 0)) {
      throw new InvalidConfigError(`KVCalibration: qHeads (${qHeads}) must be a multiple of kvHeads (${kvHeads})`);
    }
    if (init.layerRopes && init.layerRopes.length !== init.layers.length) {
      throw new InvalidConfigError(`KVCalibration: layerRopes holds ${init.layerRopes.length} ropes for ${init.layers.length} layers`);
    }
    const layers = init.layers.map((input, layer) => {
      if (!input) return undefined;
      const n = input.positions.length;
      const keys = hostFloats(input.keys);
      const values = hostFloats(input.values);
      const queries = input.queries && hostFloats(input.queries);
      const where = `KVCalibration layer ${layer}`;
      if (!(input.positions instanceof Int32Array)) throw new ShapeMismatchError(`${where}: positions must be an Int32Array`);
      if (keys.length !== kvHeads * n * headDim || values.length !== kvHeads * n * headDim) {
        throw new ShapeMismatchError(
          `${where}: keys and values must be [${kvHeads}, ${n}, ${headDim}] (${kvHeads * n * headDim} values), got ${keys.length} and ${
            values.length
          }`
        );
      }
      if (queries && (qHeads === undefined || queries.length !== qHeads * n * headDim)) {
        throw new ShapeMismatchError(`${where}: queries need qHeads and must be [qHeads, ${n}, ${headDim}]`);
      }
      if (input.keyInput === 'post-rope') {
        const layerRope = init.layerRopes?.[layer] ?? init.rope;
        if (!layerRope) throw new InvalidConfigError(`${where}: post-RoPE keys need the model's rope to recover pre-RoPE keys`);
        return {
          tokens: n,
          keys: rotate(keys, kvHeads, n, headDim, input.positions, layerRope, -1),
          values: Float32Array.from(values),
          positions: Int32Array.from(input.positions),
          queries: queries && rotate(queries, qHeads!, n, headDim, input.positions, layerRope, -1),
        };
      }
      return {
        tokens: n,
        keys: Float32Array.from(keys),
        values: Float32Array.from(values),
        positions: Int32Array.from(input.positions),
        queries: queries && Float32Array.from(queries),
      };
    });
    return new KVCalibration(
      kvHeads,
      headDim,
      qHeads,
      init.rope && { invFreq: Float32Array.from(init.rope.invFreq), layout: init.rope.layout },
      layers,
      init.layerRopes?.map((r) => ({ invFreq: Float32Array.from(r.invFreq), layout: r.layout }))
    );
  }

  get numLayers(): number {
    return this.samples.length;
  }

  /** Whether `layer` has samples. */
  has(layer: number): boolean {
    return this.samples[layer] !== undefined && this.samples[layer]!.tokens > 0;
  }

  /** Checks that the calibration was taken on a model with this layer's KV geometry. */
  assertFits(spec: { kvHeads: number; headDim: number }, method: string): void {
    if (this.kvHeads !== spec.kvHeads || this.headDim !== spec.headDim) {
      throw new InvalidConfigError(
        `${method}: the calibration is for ${this.kvHeads} KV heads of ${this.headDim} channels, the model has ${spec.kvHeads} of ${spec.headDim}`
      );
    }
  }

  /** The samples of `layer`; a typed error naming `method` when there are none. */
  layer(layer: number, method = 'calibration'): LayerSamples {
    const s = this.samples[layer];
    if (!s || s.tokens === 0) throw new CalibrationRequiredError(method, `the calibration has no samples for layer ${layer}`);
    return s;
  }

  /** Keys of `layer` before or after RoPE ([kvHeads, tokens, headDim]). */
  keys(layer: number, keyInput: 'pre-rope' | 'post-rope', method = 'calibration'): Float32Array {
    const s = this.layer(layer, method);
    if (keyInput === 'pre-rope') return s.keys;
    const layerRope = this.ropeOf(layer);
    if (!layerRope) throw new CalibrationRequiredError(method, 'post-RoPE keys need the rope of the model in the calibration');
    return rotate(s.keys, this.kvHeads, s.tokens, this.headDim, s.positions, layerRope, 1);
  }

  /**
   * Per KV head and channel, the mean query energy that multiplies an error in that key channel:
   * E[q_c²] averaged over the query heads that read the KV head; with a rope, the energy of the
   * rotating pair (q_c² + q_c'²)/2, which RoPE does not change. undefined without queries.
   */
  queryEnergy(layer: number): Float64Array | undefined {
    const s = this.layer(layer);
    if (!s.queries || !this.qHeads) return undefined;
    const { kvHeads, headDim: d, qHeads } = this;
    const group = qHeads / kvHeads;
    const energy = new Float64Array(kvHeads * d);
    for (let h = 0; h < qHeads; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < s.tokens; t++) {
        for (let c = 0; c < d; c++) energy[kvh * d + c] += s.queries[(h * s.tokens + t) * d + c] ** 2;
      }
    }
    for (let i = 0; i < energy.length; i++) energy[i] /= group * s.tokens;
    const layerRope = this.ropeOf(layer);
    if (!layerRope) return energy;
    // RoPE rotates channel pairs, so an error weighs its pair's mean energy; a pair that does not
    // rotate (a zero frequency: a NoPE layer's) keeps each channel's own.
    const paired = Float64Array.from(energy);
    const half = layerRope.invFreq.length;
    for (let h = 0; h < kvHeads; h++) {
      for (let i = 0; i < half; i++) {
        if (layerRope.invFreq[i] === 0) continue;
        const [a, b] = layerRope.layout === 'half' ? [i, i + half] : [2 * i, 2 * i + 1];
        const mean = (energy[h * d + a] + energy[h * d + b]) / 2;
        paired[h * d + a] = mean;
        paired[h * d + b] = mean;
      }
    }
    return paired;
  }

  toJSON(): KVCalibrationJSON {
    return {
      format: CALIBRATION_FORMAT,
      version: 1,
      kvHeads: this.kvHeads,
      ...(this.qHeads !== undefined ? { qHeads: this.qHeads } : {}),
      headDim: this.headDim,
      ...(this.rope ? { rope: { invFreq: toBase64(this.rope.invFreq), layout: this.rope.layout } } : {}),
      ...(this.layerRopes ? { layerRopes: this.layerRopes.map((r) => ({ invFreq: toBase64(r.invFreq), layout: r.layout })) } : {}),
      layers: this.samples.map((s) =>
        s
          ? {
              tokens: s.tokens,
              keys: toBase64(s.keys),
              values: toBase64(s.values),
              positions: toBase64(s.positions),
              ...(s.queries ? { queries: toBase64(s.queries) } : {}),
            }
          : null
      ),
    };
  }

  /** Reads `toJSON()`'s output (an object or its JSON text), checking every shape. */
  static load(json: KVCalibrationJSON | string): KVCalibration {
    const raw = (typeof json === 'string' ? JSON.parse(json) : json) as KVCalibrationJSON;
    if (!raw || raw.format !== CALIBRATION_FORMAT || raw.version !== 1 || !Array.isArray(raw.layers)) {
      throw new InvalidConfigError(`KVCalibration.load: not a ${CALIBRATION_FORMAT} version 1 document`);
    }
    const f32 = (b: ArrayBuffer) => new Float32Array(b);
    const i32 = (b: ArrayBuffer) => new Int32Array(b);
    return KVCalibration.fromSamples({
      kvHeads: raw.kvHeads,
      headDim: raw.headDim,
      qHeads: raw.qHeads,
      rope: raw.rope && { invFreq: fromBase64(raw.rope.invFreq, f32, 'rope.invFreq'), layout: raw.rope.layout },
      layerRopes: raw.layerRopes?.map((r, i) => ({ invFreq: fromBase64(r.invFreq, f32, `layerRopes[${i}].invFreq`), layout: r.layout })),
      layers: raw.layers.map((l, i) =>
        l
          ? {
              keys: fromBase64(l.keys, f32, `layers[${i}].keys`),
              values: fromBase64(l.values, f32, `layers[${i}].values`),
              positions: fromBase64(l.positions, i32, `layers[${i}].positions`),
              queries: l.queries === undefined ? undefined : fromBase64(l.queries, f32, `layers[${i}].queries`),
            }
          : undefined
      ),
    });
  }
}
