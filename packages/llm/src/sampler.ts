import { InvalidConfigError, type Rng } from '@kvkit/tensor-core';

export interface SamplingOptions {
  /** Softmax temperature; 0 (the default) picks the most likely token (greedy). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or absent: all). */
  topK?: number;
  /** Keep the most likely tokens up to cumulative probability p (nucleus sampling; 1 or absent: all). */
  topP?: number;
}

/** Validates sampling options; a bad value names itself and its valid range. */
export function checkSamplingOptions(options: SamplingOptions): Required<SamplingOptions> {
  const temperature = options.temperature ?? 0;
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InvalidConfigError(`temperature must be a finite number >= 0 (0 = greedy), got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new InvalidConfigError(`topK must be an integer >= 0 (0 = no limit), got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new InvalidConfigError(`topP must be in (0, 1] (1 = no limit), got ${topP}`);
  return { temperature, topK, topP };
}

/** Index of the largest value (the first one on ties); NaN never wins. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  }
  return best;
}

/**
 * Picks the next token from logits, as HF's warpers do: divide by the temperature, keep the top k,
 * keep the nucleus (every token whose more likely predecessors hold less than p of the probability,
 * so at least one), renormalize, draw with the request's seeded generator.
 */
export class Sampler {
  private readonly options: Required<SamplingOptions>;

  constructor(
    options: SamplingOptions,
    private readonly rng: Rng,
  ) {
    this.options = checkSamplingOptions(options);
  }

  sample(logits: ArrayLike<number>): number {
    const { temperature, topK, topP } = this.options;
    if (temperature === 0) return argmax(logits);
    const candidates = this.candidates(logits, topK);
    // Probabilities of the candidates (sorted, most likely first), in float64.
    const max = logits[candidates[0]];
    const probs = new Float64Array(candidates.length);
    let total = 0;
    for (let i = 0; i < candidates.length; i++) {
      probs[i] = Math.exp((logits[candidates[i]] - max) / temperature);
      total += probs[i];
    }
    let keep = candidates.length;
    if (topP < 1) {
      let before = 0;
      for (let i = 0; i < candidates.length; i++) {
        if (before / total >= topP) {
          keep = i;
          break;
        }
        before += probs[i];
      }
    }
    let kept = 0;
    for (let i = 0; i < keep; i++) kept += probs[i];
    let u = this.rng.uniform() * kept;
    for (let i = 0; i < keep; i++) {
      u -= probs[i];
      if (u < 0) return candidates[i];
    }
    return candidates[keep - 1];
  }

  /** Token ids sorted by logit, most likely first (only the top k when k > 0); NaN logits are dropped. */
  private candidates(logits: ArrayLike<number>, topK: number): Int32Array {
    const ids: number[] = [];
    for (let i = 0; i < logits.length; i++) if (!Number.isNaN(logits[i])) ids.push(i);
    if (ids.length === 0) throw new InvalidConfigError('sampling: every logit is NaN');
    ids.sort((a, b) => logits[b] - logits[a] || a - b);
    return Int32Array.from(topK > 0 && topK < ids.length ? ids.slice(0, topK) : ids);
  }
}
