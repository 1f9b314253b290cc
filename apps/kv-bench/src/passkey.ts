import type { LlamaModel } from '@kvkit/llm';
import { passkeyDocument, randomPasskey } from '@kvkit/model-recipe/passkey';
import { type CacheMethod, InvalidConfigError, type Rng } from '@kvkit/tensor-core';
import { argmax } from './log-probs.js';
import { logitsRow } from './text-eval.js';

export interface PasskeyPrompt {
  ids: Int32Array;
  answer: Int32Array;
  /** Target prompt length in tokens and the relative depth of the key in the filler. */
  length: number;
  depth: number;
}

/**
 * Passkey prompts of about `length` tokens with the key at each `depth` (0 = right after the
 * intro, 1 = right before the question), filler cut from held-out text.
 */
export function makePasskeyPrompts(
  model: LlamaModel,
  fillerText: string,
  lengths: readonly number[],
  depths: readonly number[],
  perCell: number,
  rng: Rng,
): PasskeyPrompt[] {
  const sample = fillerText.slice(0, 20000);
  const charsPerToken = sample.length / Math.max(1, model.tokenizer.encode(sample).length);
  const prompts: PasskeyPrompt[] = [];
  for (const length of lengths) {
    for (const depth of depths) {
      for (let i = 0; i < perCell; i++) {
        const key = randomPasskey(() => rng.uniform());
        const overhead = model.tokenizer.encode(passkeyDocument({ key, fillerBefore: '', fillerAfter: '' }).prompt).length;
        const chars = Math.max(0, Math.round((length - overhead) * charsPerToken));
        const start = rng.int(Math.max(1, fillerText.length - chars));
        const filler = fillerText.slice(start, start + chars);
        const cut = Math.round(depth * filler.length);
        const doc = passkeyDocument({ key, fillerBefore: filler.slice(0, cut), fillerAfter: filler.slice(cut) });
        const ids = model.tokenizer.encode(doc.prompt);
        const answer = model.tokenizer.encode(doc.answer);
        const context = model.config.maxPositions;
        if (ids.length + answer.length > context) {
          throw new InvalidConfigError(
            `passkey prompts of ${length} tokens do not fit the model's context of ${context}: the template alone takes ${overhead} tokens and a prompt with its answer ${ids.length + answer.length}; pass shorter --passkey-lengths, or --passkey-per-cell 0`,
          );
        }
        prompts.push({ ids, answer, length, depth });
      }
    }
  }
  return prompts;
}

export interface PasskeyResult {
  accuracy: number;
  /** Accuracy per target prompt length. */
  byLength: Record<string, number>;
  /** Accuracy per key depth. */
  byDepth: Record<string, number>;
}

/** Prefills each prompt through the cache and greedy-decodes the answer; exact match counts. */
export async function evaluatePasskey(model: LlamaModel, prompts: readonly PasskeyPrompt[], method: CacheMethod, onTokens?: (n: number) => void): Promise<PasskeyResult> {
  const hits: boolean[] = [];
  for (const p of prompts) {
    const cache = model.createCache(method);
    let correct = true;
    try {
      let logits = model.forward(p.ids, cache, { logits: 'last' });
      onTokens?.(p.ids.length);
      for (let i = 0; i < p.answer.length; i++) {
        const next = argmax(await logitsRow(logits));
        logits.dispose();
        if (next !== p.answer[i]) {
          correct = false;
          break;
        }
        if (i + 1 < p.answer.length) {
          logits = model.forward(Int32Array.of(next), cache, { logits: 'last' });
          onTokens?.(1);
        }
      }
    } finally {
      cache.dispose();
    }
    hits.push(correct);
  }
  const share = (keep: (p: PasskeyPrompt) => boolean): number => {
    const chosen = prompts.map((p, i) => (keep(p) ? hits[i] : undefined)).filter((h) => h !== undefined);
    return chosen.filter(Boolean).length / chosen.length;
  };
  return {
    accuracy: share(() => true),
    byLength: Object.fromEntries([...new Set(prompts.map((p) => p.length))].map((l) => [String(l), share((p) => p.length === l)])),
    byDepth: Object.fromEntries([...new Set(prompts.map((p) => p.depth))].map((d) => [String(d), share((p) => p.depth === d)])),
  };
}
