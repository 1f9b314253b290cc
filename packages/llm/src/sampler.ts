import { InvalidConfigError, type Rng } from '@kvkit/tensor-core';

export interface SamplingOptions {
  /** Softmax temperature; 0 (the default) picks the most likely token (greedy). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or absent: all). */
  topK?: number;
  /** Keep the most likely tokens up to cumulative probability p (nucleus sampling; 1 or absent: all). */
  topP?: number;
  /**
   * Keep only tokens at least this fraction as likely as the most likely one (after the
   * temperature, top-k and top-p; HF's min-p warper; 0 or absent: all).
   */
  minP?: number;
  /**
   * Make every token of the context (the prompt and what was generated) less likely: its logit is
   * divided by the penalty where positive, multiplied where negative (HF's repetition penalty, from
   * CTRL; greedy decoding too). 1 or absent: none; above 1 penalizes.
   */
  repetitionPenalty?: number;
}

/** Validates sampling options; a bad value names itself and its valid range. */
export function checkSamplingOptions(options: SamplingOptions): Required<SamplingOptions> {
  const temperature = options.temperature ?? 0;
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  const minP = options.minP ?? 0;
  const repetitionPenalty = options.repetitionPenalty ?? 1;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InvalidConfigError(`temperature must be a finite number >= 0 (0 = greedy), got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new InvalidConfigError(`topK must be an integer >= 0 (0 = no limit), got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new InvalidConfigError(`topP must be in (0, 1] (1 = no limit), got ${topP}`);
  if (!(minP >= 0 && minP <= 1)) throw new InvalidConfigError(`minP must be in [0, 1] (0 = no limit), got ${minP}`);
  if (!(repetitionPenalty > 0) || !Number.isFinite(repetitionPenalty)) {
    throw new InvalidConfigError(`repetitionPenalty must be a finite number > 0 (1 = none), got ${repetitionPenalty}`);
  }
  return { temperature, topK, topP, minP, repetitionPenalty };
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
 * Picks the next token from logits, as HF's processors and warpers do: penalize the context's
 * tokens, divide by the temperature, keep the top k, keep the nucleus (every token whose more
 * likely predecessors hold less than p of the probability, so at least one), keep what is at least
 * min-p times as likely as the best, renormalize, draw with the request's seeded generator.
 */
export class Sampler {
  private readonly options: Required<SamplingOptions>;

  constructor(
    options: SamplingOptions,
    private readonly rng: Rng,
  ) {
    this.options = checkSamplingOptions(options);
  }

  /** `context`: the token ids the repetition penalty applies to (each once, however often it occurs). */
  sample(logits: ArrayLike<number>, context: Iterable<ArrayLike<number>> = []): number {
    const { temperature, topK, topP, minP, repetitionPenalty } = this.options;
    if (repetitionPenalty !== 1) logits = penalized(logits, context, repetitionPenalty);
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
    // probs[i] / probs[0] is candidate i's likelihood relative to the best (probs[0] = 1).
    while (minP > 0 && keep > 1 && probs[keep - 1] < minP) keep--;
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

/**
 * The logits with each distinct token id of `context` penalized (÷ penalty where positive,
 * × penalty where negative), rounded to f32 as HF computes them; `logits` itself is left as it is.
 */
function penalized(logits: ArrayLike<number>, context: Iterable<ArrayLike<number>>, penalty: number): Float32Array {
  const out = Float32Array.from(logits);
  for (const ids of context) {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < 0 || id >= out.length) continue;
      // From the original logit: an id that occurs again is penalized once, not again.
      const x = logits[id];
      out[id] = x < 0 ? x * penalty : x / penalty;
    }
  }
  return out;
}
