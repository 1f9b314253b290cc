import { InvalidConfigError } from './errors.js';

/** How rotary frequencies are scaled for longer contexts (the `rope_scaling` of HF configs). */
export type RopeScaling =
  | { type: 'default' }
  /** Position interpolation: every frequency divided by `factor`. */
  | { type: 'linear'; factor: number }
  /** Static NTK-aware scaling: base multiplied by factor^(d/(d−2)). */
  | { type: 'ntk'; factor: number }
  /**
   * Dynamic NTK scaling (HF `dynamic`): within the original context the plain frequencies; a pass
   * reaching L > original tokens rotates with base·(factor·L/original − (factor − 1))^(d/(d−2)).
   */
  | { type: 'dynamic'; factor: number; originalMaxPositionEmbeddings: number }
  /** Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth ramp between. */
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  /**
   * YaRN (Peng et al., 2023): frequencies that turn fewer than `betaSlow` times over the original
   * context are interpolated (divided by `factor`), those that turn more than `betaFast` times are
   * kept, with a linear ramp between; queries and keys are scaled by `attentionFactor`.
   */
  | {
      type: 'yarn';
      factor: number;
      originalMaxPositionEmbeddings: number;
      betaFast: number;
      betaSlow: number;
      /** Whether the ramp's ends are rounded to whole frequency indices (HF's default). */
      truncate: boolean;
      attentionFactor: number;
    }
  /**
   * LongRoPE (Phi-3, Phi-4): each frequency divided by its own searched factor, `shortFactor`
   * within the original context and `longFactor` beyond it; queries and keys are scaled by
   * `attentionFactor`, or by `longAttentionFactor` in a pass beyond the original context where
   * one is given (Phi-3.5-MoE's short_mscale and long_mscale).
   */
  | {
      type: 'longrope';
      shortFactor: number[];
      longFactor: number[];
      originalMaxPositionEmbeddings: number;
      attentionFactor: number;
      longAttentionFactor?: number;
    };

export const SUPPORTED_ROPE_SCALING = ['default', 'linear', 'ntk', 'dynamic', 'llama3', 'yarn', 'longrope'] as const;

/** The model-level config fields some scalings read beside their own object. */
export interface RopeScalingContext {
  /** max_position_embeddings. */
  maxPositionEmbeddings?: number;
  /** A top-level original_max_position_embeddings (Phi-3 keeps it outside rope_scaling). */
  originalMaxPositionEmbeddings?: number;
}

/** Which pairs of channels rotate together. */
export type RopeLayout =
  /** HF Llama/Mistral/Qwen2 (`rotate_half`): channel i pairs with i + d/2. */
  | 'half'
  /** GPT-J / Meta's original Llama: channel 2i pairs with 2i+1. */
  | 'interleaved';

/** A rotary embedding as caches and calibrations carry it: inverse frequencies and which channels pair. */
export interface RotaryEmbedding {
  invFreq: Float32Array;
  layout: RopeLayout;
}

/**
 * Reads an HF `rope_scaling` object (or null) into a `RopeScaling`, refusing types it does not know
 * with the list of supported ones. YaRN and LongRoPE also read `context`: their original context
 * defaults to max_position_embeddings, and LongRoPE's attention factor follows from the ratio of the
 * two context lengths, as transformers computes it.
 */
export function parseRopeScaling(raw: unknown, context: RopeScalingContext = {}): RopeScaling {
  if (raw === null || raw === undefined) return { type: 'default' };
  if (typeof raw !== 'object') throw new InvalidConfigError(`rope_scaling must be an object or null, got ${JSON.stringify(raw)}`);
  const r = raw as Record<string, unknown>;
  const type = (r.rope_type ?? r.type) as string | undefined;
  const fail = (key: string, problem: string): never => {
    throw new InvalidConfigError(`rope_scaling of type "${type}" needs ${problem} "${key}", got ${JSON.stringify(r[key])}`, { rope_scaling: raw });
  };
  const num = (key: string, fallback?: number): number => {
    const v = r[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(key, 'a numeric');
    return v;
  };
  const positive = (key: string, fallback?: number): number => {
    const v = num(key, fallback);
    return v > 0 ? v : fail(key, 'a positive');
  };
  /** The context the model was trained for before the extension. */
  const original = (fallback: number | undefined) => positive('original_max_position_embeddings', fallback);
  switch (type) {
    case 'default':
    case undefined:
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: num('factor') };
    case 'ntk':
      return { type: 'ntk', factor: num('factor') };
    case 'dynamic':
      // transformers' dynamic NTK grows from max_position_embeddings (or the scaling's own original context).
      return { type: 'dynamic', factor: positive('factor'), originalMaxPositionEmbeddings: original(context.maxPositionEmbeddings) };
    case 'llama3':
      return {
        type: 'llama3',
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositionEmbeddings: num('original_max_position_embeddings'),
      };
    case 'yarn': {
      const factor = positive('factor');
      const mscale = r.mscale as number | undefined;
      const mscaleAllDim = r.mscale_all_dim as number | undefined;
      // The paper's 0.1·ln(s) + 1; DeepSeek's configs give it as a ratio of two such terms.
      const yarnScale = (m: number) => (factor <= 1 ? 1 : 0.1 * m * Math.log(factor) + 1);
      const defaultAttention = mscale && mscaleAllDim ? yarnScale(num('mscale')) / yarnScale(num('mscale_all_dim')) : yarnScale(1);
      return {
        type: 'yarn',
        factor,
        originalMaxPositionEmbeddings: original(context.maxPositionEmbeddings),
        betaFast: num('beta_fast', 32),
        betaSlow: num('beta_slow', 1),
        truncate: r.truncate !== false,
        attentionFactor: positive('attention_factor', defaultAttention),
      };
    }
    case 'longrope': {
      const factors = (key: string): number[] => {
        const v = r[key];
        if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x))) return fail(key, 'a list of positive numbers');
        return v as number[];
      };
      const originalMax = original(context.originalMaxPositionEmbeddings ?? context.maxPositionEmbeddings);
      // Phi-3 states both context lengths (the original one outside rope_scaling) instead of a
      // factor: their ratio is the factor then, as it is where rope_scaling gives no factor.
      const maxPositions = context.maxPositionEmbeddings;
      const ratio = maxPositions === undefined ? undefined : maxPositions / originalMax;
      const factor = ratio !== undefined && (context.originalMaxPositionEmbeddings !== undefined || r.factor === undefined) ? ratio : num('factor', 1);
      const defaultAttention = factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(originalMax));
      return {
        type: 'longrope',
        shortFactor: factors('short_factor'),
        longFactor: factors('long_factor'),
        originalMaxPositionEmbeddings: originalMax,
        attentionFactor: positive('attention_factor', defaultAttention),
      };
    }
    default:
      throw new InvalidConfigError(
        `rope_scaling type "${type}" is not supported; supported: ${SUPPORTED_ROPE_SCALING.join(', ')} (or null)`,
        { rope_scaling: raw },
      );
  }
}

/**
 * The factor YaRN and LongRoPE scale queries and keys by (HF multiplies cos and sin by it); 1 for
 * the other scalings. Only the rotated channels are scaled.
 */
export function ropeAttentionFactor(scaling: RopeScaling): number {
  return scaling.type === 'yarn' || scaling.type === 'longrope' ? scaling.attentionFactor : 1;
}

/**
 * The inverse frequencies θ_i (length rotaryDim/2) for base `theta`, scaled as `scaling` says.
 * Computed in float64 with each step rounded to f32, like the f32 buffers of HF implementations.
 * `sequenceLength` is the length a forward pass reaches (its largest position + 1): LongRoPE takes
 * its long factors beyond the original context, and dynamic NTK grows its base with it, as
 * transformers decides per pass.
 */
export function ropeInverseFrequencies(rotaryDim: number, theta: number, scaling: RopeScaling = { type: 'default' }, sequenceLength = 0): Float32Array {
  if (!Number.isInteger(rotaryDim) || rotaryDim <= 0 || rotaryDim % 2 !== 0) {
    throw new InvalidConfigError(`rope: rotary dimension must be a positive even integer, got ${rotaryDim}`);
  }
  if (!(theta > 0)) throw new InvalidConfigError(`rope: theta must be > 0, got ${theta}`);
  const half = rotaryDim / 2;
  let base = theta;
  if (scaling.type === 'ntk') base = theta * scaling.factor ** (rotaryDim / (rotaryDim - 2));
  if (scaling.type === 'dynamic' && sequenceLength > scaling.originalMaxPositionEmbeddings) {
    const { factor, originalMaxPositionEmbeddings: original } = scaling;
    base = theta * ((factor * sequenceLength) / original - (factor - 1)) ** (rotaryDim / (rotaryDim - 2));
  }
  // base^(2i/d) as f32, the denominator of every frequency.
  const power = Float64Array.from({ length: half }, (_, i) => Math.fround(base ** Math.fround((2 * i) / rotaryDim)));
  const inv = power.map((p) => Math.fround(1 / p));
  if (scaling.type === 'linear') for (let i = 0; i < half; i++) inv[i] /= scaling.factor;
  if (scaling.type === 'llama3') applyLlama3Scaling(inv, scaling);
  if (scaling.type === 'yarn') applyYarnScaling(inv, power, theta, rotaryDim, scaling);
  if (scaling.type === 'longrope') {
    const long = sequenceLength > scaling.originalMaxPositionEmbeddings;
    const factors = long ? scaling.longFactor : scaling.shortFactor;
    if (factors.length !== half) {
      throw new InvalidConfigError(`rope_scaling: longrope's ${long ? 'long' : 'short'}_factor has ${factors.length} entries; a rotary dimension of ${rotaryDim} needs ${half}`);
    }
    for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.fround(Math.fround(factors[i]) * power[i]));
  }
  return Float32Array.from(inv);
}

/** YaRN's blend of interpolated (θ/s) and kept frequencies across the ramp between its correction dims. */
function applyYarnScaling(inv: Float64Array, power: Float64Array, theta: number, rotaryDim: number, s: Extract<RopeScaling, { type: 'yarn' }>): void {
  // The index whose frequency turns `rotations` times over the original context.
  const correctionDim = (rotations: number) => (rotaryDim * Math.log(s.originalMaxPositionEmbeddings / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = correctionDim(s.betaFast);
  let high = correctionDim(s.betaSlow);
  if (s.truncate) [low, high] = [Math.floor(low), Math.ceil(high)];
  [low, high] = [Math.max(low, 0), Math.min(high, rotaryDim - 1)];
  if (low === high) high += 0.001;
  for (let i = 0; i < inv.length; i++) {
    const ramp = Math.min(1, Math.max(0, Math.fround(Math.fround(i - low) / Math.fround(high - low))));
    const kept = Math.fround(1 - ramp);
    const interpolated = Math.fround(1 / Math.fround(s.factor * power[i]));
    inv[i] = Math.fround(Math.fround(interpolated * Math.fround(1 - kept)) + Math.fround(inv[i] * kept));
  }
}

function applyLlama3Scaling(inv: Float64Array, s: Extract<RopeScaling, { type: 'llama3' }>): void {
  const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < inv.length; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen > lowFreqWavelen) {
      inv[i] = inv[i] / s.factor;
    } else if (wavelen >= highFreqWavelen) {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
    }
  }
}
