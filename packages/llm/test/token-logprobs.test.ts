import { join } from 'node:path';
import { withSeed } from '@kvkit/tensor-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type LlamaModel, loadModel, type TokenEvent, tokenLogprob } from '../src/index.js';
import { expectKvkitErrorAsync } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';

/** log-softmax by its definition, with NaN as impossible. */
function logSoftmax(logits: ArrayLike<number>): number[] {
  const values = Array.from(logits, (x) => (Number.isNaN(x) ? -Infinity : x));
  const max = Math.max(...values);
  const logZ = max + Math.log(values.reduce((s, x) => s + Math.exp(x - max), 0));
  return values.map((x) => x - logZ);
}

describe('tokenLogprob', () => {
  it("is log-softmax of the logits; the top list is every id ranked by it, lower ids first on ties", () =>
    withSeed((rng) => {
      for (let trial = 0; trial < 20; trial++) {
        const n = 1 + rng.int(40);
        // Few distinct values, so that ties happen; a NaN now and then.
        const logits = Float32Array.from({ length: n }, () => (rng.uniform() < 0.05 ? Number.NaN : rng.int(6) - 3));
        const reference = logSoftmax(logits);
        const id = rng.int(n);
        const top = rng.int(Math.min(n, 8) + 1);
        const got = tokenLogprob(logits, id, top);
        expect(got.logprob).toBeCloseTo(reference[id], 12);
        const ranked = reference.map((lp, i) => ({ id: i, lp })).sort((a, b) => b.lp - a.lp || a.id - b.id).slice(0, top);
        expect(got.top.map((t) => t.id)).toEqual(ranked.map((t) => t.id));
        got.top.forEach((t, i) => expect(t.logprob).toBeCloseTo(ranked[i].lp, 12));
      }
    }));
});

describe('generate with logprobs', () => {
  let model: LlamaModel;
  beforeAll(async () => {
    model = await loadModel(join(TORCH_REFERENCE, 'llama'));
  });
  afterAll(() => model.dispose());

  it("gives each token's log-probability under the model, on the result and on each event", async () => {
    const prompt = model.tokenizer.encode('Call me Ishmael');
    const events: TokenEvent[] = [];
    const result = await generate(model, prompt, { maxNewTokens: 6, ignoreEos: true, logprobs: true, topLogprobs: 3, onToken: (e) => events.push(e) });
    expect(result.logprobs).toHaveLength(6);
    expect(events.map((e) => e.logprob)).toEqual(result.logprobs);
    // Step by step from the model's own logits: full forward passes over the context so far.
    const ids = Array.from(prompt);
    for (const [step, lp] of result.logprobs!.entries()) {
      const cache = model.createCache();
      const logits = model.forward(Int32Array.from(ids), cache, { logits: 'last' });
      const reference = logSoftmax(logits.readFloat32Sync());
      logits.dispose();
      cache.dispose();
      expect(lp.id).toBe(result.ids[step]);
      expect(lp.logprob).toBeCloseTo(reference[lp.id], 5);
      // Greedy: the token is the most likely one.
      expect(lp.top[0].id).toBe(lp.id);
      expect(lp.top).toHaveLength(3);
      ids.push(lp.id);
    }
    const plain = await generate(model, prompt, { maxNewTokens: 2 });
    expect(plain.logprobs).toBeUndefined();
    await expectKvkitErrorAsync(generate(model, prompt, { logprobs: true, topLogprobs: 21 }), 'INVALID_CONFIG', /topLogprobs must be an integer in \[0, 20\]/);
    await expectKvkitErrorAsync(generate(model, prompt, { topLogprobs: 2 }), 'INVALID_CONFIG', /topLogprobs needs logprobs: true/);
  });
});
