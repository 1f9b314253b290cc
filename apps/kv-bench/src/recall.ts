import type { LlamaModel } from '@kvkit/llm';
import type { CacheMethod } from '@kvkit/tensor-core';
import { nll } from './log-probs.js';
import { logitsRow } from './text-eval.js';

/**
 * Long-range recall: a held-out passage, filler, then the same passage again. A model that still
 * sees the first reading predicts the repeat far better; a cache that lost it does not.
 */
export interface RecallProbe {
  passage: Int32Array;
  filler: Int32Array;
}

export interface RecallResult {
  /** Mean NLL (nats/token) on the first reading, inside the prompt. */
  firstNll: number;
  /** Mean NLL on the repeat, decoded through the cache. */
  repeatNll: number;
}

export async function evaluateRecall(model: LlamaModel, probes: readonly RecallProbe[], method: CacheMethod, onTokens?: (n: number) => void): Promise<RecallResult> {
  let first = 0;
  let firstCount = 0;
  let repeat = 0;
  let repeatCount = 0;
  for (const { passage, filler } of probes) {
    const prompt = new Int32Array(passage.length + filler.length);
    prompt.set(passage);
    prompt.set(filler, passage.length);
    const cache = model.createCache(method);
    try {
      let logits = model.forward(prompt, cache, { logits: 'all' });
      const all = await logits.readFloat32();
      const vocab = logits.shape[1];
      logits.dispose();
      for (let t = 0; t + 1 < passage.length; t++) {
        first += nll(all.subarray(t * vocab, (t + 1) * vocab), passage[t + 1]);
        firstCount += 1;
      }
      onTokens?.(prompt.length);
      // The last prompt position predicts the repeat's first token; then teacher-force the repeat.
      let row: Float32Array = all.slice((prompt.length - 1) * vocab, prompt.length * vocab);
      for (let t = 0; t < passage.length; t++) {
        repeat += nll(row, passage[t]);
        repeatCount += 1;
        if (t + 1 < passage.length) {
          logits = model.forward(passage.subarray(t, t + 1), cache, { logits: 'last' });
          row = await logitsRow(logits);
          logits.dispose();
          onTokens?.(1);
        }
      }
    } finally {
      cache.dispose();
    }
  }
  return { firstNll: first / firstCount, repeatNll: repeat / repeatCount };
}

/**
 * The share of the dense cache's recall gain a method keeps: 1 = predicts the repeat as well as the
 * dense cache, 0 = no better than the dense cache's first reading. Both ends are measured on the
 * dense cache, so a method that also hurts the first reading gets no credit for that.
 */
export function recallRetained(method: RecallResult, dense: RecallResult): number {
  const gain = dense.firstNll - dense.repeatNll;
  if (!(gain > 0)) return NaN;
  return (dense.firstNll - method.repeatNll) / gain;
}
