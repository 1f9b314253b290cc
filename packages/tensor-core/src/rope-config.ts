import { InvalidConfigError } from './errors.js';

/** How rotary frequencies are scaled for longer contexts (the `rope_scaling` of HF configs). */
export type RopeScaling =
  | { type: 'default' }
  /** Position interpolation: every frequency divided by `factor`. */
  | { type: 'linear'; factor: number }
  /** Static NTK-aware scaling: base multiplied by factor^(d/(d−2)). */
  | { type: 'ntk'; factor: number }
  /** Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth ramp between. */
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export const SUPPORTED_ROPE_SCALING = ['default', 'linear', 'ntk', 'llama3'] as const;

/** Which pairs of channels rotate together. */
export type RopeLayout =
  /** HF Llama/Mistral/Qwen2 (`rotate_half`): channel i pairs with i + d/2. */
  | 'half'
  /** GPT-J / Meta's original Llama: channel 2i pairs with 2i+1. */
  | 'interleaved';

/**
 * Reads an HF `rope_scaling` object (or null) into a `RopeScaling`, refusing types it does not know
 * with the list of supported ones.
 */
export function parseRopeScaling(raw: unknown): RopeScaling {
  if (raw === null || raw === undefined) return { type: 'default' };
  if (typeof raw !== 'object') throw new InvalidConfigError(`rope_scaling must be an object or null, got ${JSON.stringify(raw)}`);
  const r = raw as Record<string, unknown>;
  const type = (r.rope_type ?? r.type) as string | undefined;
  const num = (key: string, fallback?: number): number => {
    const v = r[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InvalidConfigError(`rope_scaling of type "${type}" needs a numeric "${key}", got ${JSON.stringify(r[key])}`, { rope_scaling: raw });
    }
    return v;
  };
  switch (type) {
    case 'default':
    case undefined:
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: num('factor') };
    case 'ntk':
      return { type: 'ntk', factor: num('factor') };
    case 'llama3':
      return {
        type: 'llama3',
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositionEmbeddings: num('original_max_position_embeddings'),
      };
    default:
      throw new InvalidConfigError(
        `rope_scaling type "${type}" is not supported; supported: ${SUPPORTED_ROPE_SCALING.join(', ')} (or null)`,
        { rope_scaling: raw },
      );
  }
}

/**
 * The inverse frequencies θ_i (length rotaryDim/2) for base `theta`, scaled as `scaling` says.
 * Computed in float64 and rounded to f32 once, like the f32 buffers of HF implementations.
 */
export function ropeInverseFrequencies(rotaryDim: number, theta: number, scaling: RopeScaling = { type: 'default' }): Float32Array {
  if (!Number.isInteger(rotaryDim) || rotaryDim <= 0 || rotaryDim % 2 !== 0) {
    throw new InvalidConfigError(`rope: rotary dimension must be a positive even integer, got ${rotaryDim}`);
  }
  if (!(theta > 0)) throw new InvalidConfigError(`rope: theta must be > 0, got ${theta}`);
  const half = rotaryDim / 2;
  let base = theta;
  if (scaling.type === 'ntk') base = theta * scaling.factor ** (rotaryDim / (rotaryDim - 2));
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.fround(base ** Math.fround((2 * i) / rotaryDim)));
  if (scaling.type === 'linear') for (let i = 0; i < half; i++) inv[i] /= scaling.factor;
  if (scaling.type === 'llama3') applyLlama3Scaling(inv, scaling);
  return Float32Array.from(inv);
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
