import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type LlamaModel, loadModel } from '@kvkit/llm';
import { type CacheLayerFactory, createRng, denseCache } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatePasskey, evaluateRecall, evaluateText, makePasskeyPrompts, makeWindows, recallRetained } from '../src/index.js';
import { klDivergence, logSoftmax, nll } from '../src/log-probs.js';
import { REPO_ROOT, writeRandomModel } from './random-model.js';

const text = readFileSync(join(REPO_ROOT, 'models', 'kvkit-tiny', 'eval', 'test.txt'), 'utf8').slice(0, 60000);

/** A cache that attends only to the last `window` positions (still storing everything): a deliberately forgetful method. */
function forgetful(window: number): CacheLayerFactory {
  const inner = denseCache({ dtype: 'f32' });
  return (spec) => {
    const layer = inner(spec);
    return Object.assign(Object.create(layer), {
      attend: (q: Parameters<typeof layer.attend>[0], o: Parameters<typeof layer.attend>[1]) => layer.attend(q, { ...o, window }),
    });
  };
}

describe('log-probability helpers', () => {
  it('match their definitions', () =>
    withSeed((rng) => {
      const logits = Array.from({ length: 50 }, () => 5 * rng.normal());
      const z = logits.reduce((s, x) => s + Math.exp(x), 0);
      expect(nll(logits, 7)).toBeCloseTo(-Math.log(Math.exp(logits[7]) / z), 10);
      const lp = logSoftmax(logits);
      const other = logSoftmax(logits.map((x) => x + rng.normal()));
      const direct = logits.reduce((s, x, i) => s + (Math.exp(x) / z) * (lp[i] - other[i]), 0);
      expect(klDivergence(lp, other)).toBeCloseTo(direct, 5);
      expect(klDivergence(lp, lp)).toBe(0);
    }));

  it('makeWindows spreads windows over the text and prefills the given share', () => {
    const ids = Int32Array.from({ length: 1000 }, (_, i) => i);
    const ws = makeWindows(ids, 100, 3, 0.5);
    expect(ws.map((w) => w.ids[0])).toEqual([0, 450, 900]);
    expect(ws.every((w) => w.ids.length === 100 && w.prefill === 50)).toBe(true);
    expect(makeWindows(ids, 600, 3, 0.5)).toHaveLength(1);
    expect(makeWindows(ids, 2000, 3, 0.5)).toHaveLength(0);
  });
});

describe('evaluation protocol on a random-weight Llama with the project tokenizer', () => {
  let dir: string;
  let model: LlamaModel;
  beforeAll(async () => {
    dir = writeRandomModel();
    model = await loadModel(dir);
  });
  afterAll(() => {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('teacher-forced decoding through the dense cache scores exactly what one full forward scores', async () => {
    const ids = model.tokenizer.encode(text);
    const windows = makeWindows(ids, 96, 2, 0.5);
    const result = await evaluateText(model, windows, denseCache({ dtype: 'f32' }), { keepLogProbs: true });
    let direct = 0;
    for (const w of windows) {
      const cache = model.createCache(denseCache({ dtype: 'f32' }));
      const logits = model.forward(w.ids, cache, { logits: 'all' });
      const all = logits.readFloat32Sync();
      const vocab = logits.shape[1];
      for (let t = w.prefill; t < w.ids.length; t++) direct += nll(all.subarray((t - 1) * vocab, t * vocab), w.ids[t]);
      cache.dispose();
    }
    expect(result.tokens).toBe(2 * 48);
    expect(Math.abs(result.nll - direct) / direct).toBeLessThan(1e-4);
    expect(result.logProbs).toHaveLength(2);
    const again = await evaluateText(model, windows, denseCache({ dtype: 'f32' }), { reference: result.logProbs });
    expect(again.kl).toBeLessThan(1e-9);
    expect(result.memory.kvBytesF16).toBe(96 * 2 * 16 * 2 * 2 * 2);
    expect(result.memory.layerBytes).toHaveLength(2);
  });

  it('KL to the dense cache grows as a cache forgets more', async () => {
    const ids = model.tokenizer.encode(text);
    const windows = makeWindows(ids, 96, 2, 0.5);
    const ref = await evaluateText(model, windows, denseCache({ dtype: 'f32' }), { keepLogProbs: true });
    const half = await evaluateText(model, windows, denseCache({ dtype: 'f16' }), { reference: ref.logProbs });
    const short = await evaluateText(model, windows, forgetful(8), { reference: ref.logProbs });
    expect(half.kl!).toBeGreaterThan(0);
    expect(short.kl!).toBeGreaterThan(10 * half.kl!);
  });

  it('recall: the dense cache keeps all its own gain; a forgetful cache cannot see the first reading', async () => {
    const ids = model.tokenizer.encode(text);
    const probes = [{ passage: ids.subarray(0, 24), filler: ids.subarray(24, 80) }];
    const dense = await evaluateRecall(model, probes, denseCache({ dtype: 'f32' }));
    expect(recallRetained(dense, dense)).toBe(1);
    const short = await evaluateRecall(model, probes, forgetful(4));
    expect(short.repeatNll).not.toBeCloseTo(dense.repeatNll, 3);
    // The share is measured against the dense cache's first reading and repeat.
    expect(recallRetained({ firstNll: 9, repeatNll: 4 }, { firstNll: 5, repeatNll: 1 })).toBe(0.25);
    expect(recallRetained({ firstNll: 5, repeatNll: 6 }, { firstNll: 5, repeatNll: 1 })).toBe(-0.25);
    expect(recallRetained(dense, { firstNll: 1, repeatNll: 2 })).toBeNaN();
  });

  it('passkey prompts have about the asked length, the key at the asked depth, and are scored by exact match', async () => {
    const prompts = makePasskeyPrompts(model, text, [128, 256], [0.1, 0.9], 2, createRng(3));
    expect(prompts).toHaveLength(8);
    for (const p of prompts) {
      expect(Math.abs(p.ids.length - p.length) / p.length).toBeLessThan(0.25);
      expect(model.tokenizer.decode(p.answer)).toMatch(/^ \d{5}\.$/);
      const prompt = model.tokenizer.decode(p.ids);
      const keyAt = prompt.indexOf(`The pass key is ${model.tokenizer.decode(p.answer).trim().slice(0, 5)}`);
      expect(keyAt / prompt.length).toBeGreaterThan(p.depth - 0.2);
      expect(keyAt / prompt.length).toBeLessThan(p.depth + 0.2);
    }
    const result = await evaluatePasskey(model, prompts.slice(0, 2), denseCache({ dtype: 'f32' }));
    expect(result.accuracy).toBeGreaterThanOrEqual(0);
    expect(Object.keys(result.byLength)).toEqual(['128']);
  });
});
