import { join } from 'node:path';
import { denseCache } from '@kvkit/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, generateBatch, type GenerateOptions, type GenerateResult, type LlamaModel, loadModel, type TokenEvent } from '../src/index.js';
import { expectKvkitErrorAsync } from './helpers/errors.js';
import { filesOf, readReference, TORCH_REFERENCE, torchFixtures } from './helpers/fixtures.js';

const dir = (name: string): string => join(TORCH_REFERENCE, name);

const rejects = expectKvkitErrorAsync;

describe('generate', () => {
  let model: LlamaModel;
  const ref = readReference(dir('llama'));
  const prompt = Int32Array.from(ref.ids.slice(0, ref.prompt_tokens));
  beforeAll(async () => {
    model = await loadModel(dir('llama'));
  });
  afterAll(() => model.dispose());

  it('continues greedily exactly as the PyTorch reference does, for every architecture', async () => {
    for (const name of torchFixtures()) {
      const reference = readReference(dir(name));
      const m = await loadModel(dir(name));
      const result = await generate(m, Int32Array.from(reference.ids.slice(0, reference.prompt_tokens)), { maxNewTokens: 6, ignoreEos: true });
      expect(Array.from(result.ids), name).toEqual(reference.greedy.ids);
      expect(result).toMatchObject({ promptTokens: 7, generatedTokens: 6, stopReason: 'length' });
      m.dispose();
    }
  });

  it('repetitionPenalty penalizes the prompt and the generated tokens: greedy equals a step-by-step loop over the reference logits', async () => {
    // This fixture's greedy continuation repeats the prompt's last token: the penalty must reach the prompt.
    const name = 'qwen3-qk-norm';
    const reference = readReference(dir(name));
    const m = await loadModel(dir(name));
    const start = Int32Array.from(reference.ids.slice(0, reference.prompt_tokens));
    expect(reference.greedy.ids[0]).toBe(start[start.length - 1]);
    const penalty = 3;
    const result = await generate(m, start, { maxNewTokens: 8, ignoreEos: true, repetitionPenalty: penalty });
    // The same steps by hand: full forward passes, each distinct context id penalized once, argmax.
    const ids = Array.from(start);
    for (let step = 0; step < 8; step++) {
      const cache = m.createCache();
      const logits = m.forward(Int32Array.from(ids), cache, { logits: 'last' });
      const row = Array.from(logits.readFloat32Sync());
      logits.dispose();
      cache.dispose();
      for (const id of new Set(ids)) row[id] = row[id] < 0 ? row[id] * penalty : row[id] / penalty;
      ids.push(row.indexOf(Math.max(...row)));
    }
    expect(Array.from(result.ids)).toEqual(ids.slice(start.length));
    expect(result.ids[0]).not.toBe(reference.greedy.ids[0]);
    m.dispose();
  });

  it('tokenizes a text prompt, streams the text, and reports timings and memory', async () => {
    const events: TokenEvent[] = [];
    const result = await generate(model, 'Call me Ishmael', { maxNewTokens: 8, ignoreEos: true, onToken: (e) => events.push(e) });
    expect(result.promptTokens).toBe(model.tokenizer.encode('Call me Ishmael').length);
    expect(result.generatedTokens).toBe(8);
    expect(events.map((e) => e.id)).toEqual(Array.from(result.ids));
    expect(events.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(events.every((e) => e.request === 0)).toBe(true);
    expect(events.map((e) => e.text).join('')).toBe(result.text);
    expect(result.text).toBe(model.tokenizer.decode(result.ids, { skipSpecialTokens: true }));
    expect(result.timings.prefillMs).toBeGreaterThan(0);
    expect(result.timings.decodeMs).toBeGreaterThan(0);
    // The cache held the prompt and every generated token but the last (sampled, never fed back).
    expect(result.memory.tokens).toBe(result.promptTokens + 7);
    expect(result.memory.parts.keys).toBe(result.memory.tokens * 2 * 8 * 4 * 2); // 2 layers × 2 KV heads × 8 channels × f32
  });

  it('stops on a stop token, on the EOS of generation_config.json, and on a stop string', async () => {
    const g = ref.greedy.ids;
    const byToken = await generate(model, prompt, { maxNewTokens: 6, ignoreEos: true, stop: [g[2]] });
    const first = g.indexOf(g[2]);
    expect(Array.from(byToken.ids)).toEqual(g.slice(0, first + 1));
    expect(byToken.stopReason).toBe('eos');

    const files = filesOf(dir('llama'));
    files['generation_config.json'] = new TextEncoder().encode(JSON.stringify({ eos_token_id: [g[1]] }));
    const withEos = await loadModel({ files });
    expect(withEos.tokenizer.eosTokenIds).toEqual([g[1]]);
    const byEos = await generate(withEos, prompt, { maxNewTokens: 6 });
    expect(Array.from(byEos.ids)).toEqual(g.slice(0, g.indexOf(g[1]) + 1));
    expect(byEos.stopReason).toBe('eos');
    withEos.dispose();

    const free = await generate(model, 'The whale', { maxNewTokens: 12, ignoreEos: true });
    const stopString = free.text.slice(3, 5);
    const streamed: string[] = [];
    const cut = await generate(model, 'The whale', { maxNewTokens: 12, ignoreEos: true, stop: [stopString], onToken: (e) => streamed.push(e.text) });
    expect(cut.stopReason).toBe('stop');
    expect(cut.text).toBe(free.text.slice(0, free.text.indexOf(stopString)));
    expect(streamed.join('')).toBe(cut.text); // the stop string was never streamed
  });

  it('stops at the end of the context, and refuses a prompt longer than the context', async () => {
    const long = Int32Array.from({ length: 60 }, (_, i) => 1 + (i % 90));
    const result = await generate(model, long, { maxNewTokens: 10, ignoreEos: true });
    expect(result.stopReason).toBe('context');
    expect(result.generatedTokens).toBe(5); // positions 60–63 fed back, the fifth token sampled at 63
    await rejects(generate(model, Int32Array.from({ length: 65 }, () => 3)), 'INDEX_OUT_OF_RANGE', /prompt 0 has 65 tokens, more than the model's context of 64 tokens/);
    const beyond = await generate(model, long, { maxNewTokens: 10, ignoreEos: true, allowBeyondContext: true });
    expect(beyond).toMatchObject({ stopReason: 'length', generatedTokens: 10 });
  });

  it('samples reproducibly from a seed, with prefill chunks changing nothing', async () => {
    const options: GenerateOptions = { maxNewTokens: 10, temperature: 1.5, topK: 40, topP: 0.95, seed: 11, ignoreEos: true };
    const a = await generate(model, prompt, options);
    const b = await generate(model, prompt, { ...options, prefillChunk: 3 });
    const c = await generate(model, prompt, { ...options, seed: 12 });
    expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
    expect(Array.from(c.ids)).not.toEqual(Array.from(a.ids));
  });

  it('continues an existing cache, which it leaves to the caller', async () => {
    const cache = model.createCache();
    const first = await generate(model, prompt, { maxNewTokens: 4, ignoreEos: true, cache });
    const more = Int32Array.of(5, 6, 7);
    const second = await generate(model, more, { maxNewTokens: 4, ignoreEos: true, cache });
    const fed = Int32Array.from([...prompt, ...Array.from(first.ids).slice(0, 3), ...more]);
    const oneShot = await generate(model, fed, { maxNewTokens: 4, ignoreEos: true });
    expect(Array.from(second.ids)).toEqual(Array.from(oneShot.ids));
    expect(cache.layers[0].length).toBe(fed.length + 3); // still usable: not disposed
    cache.dispose();
  });

  it('plugs in a cache method per request', async () => {
    const result = await generate(model, prompt, { maxNewTokens: 3, ignoreEos: true, cache: denseCache({ dtype: 'f16' }) });
    expect(result.memory.parts.keys).toBe((7 + 2) * 2 * 8 * 2 * 2);
  });

  it('decodes a batch together with the same results as one request at a time', async () => {
    const prompts = [prompt, Int32Array.of(3, 4), 'Call me Ishmael. Some years ago'];
    const single: GenerateResult[] = [];
    for (const p of prompts) single.push(await generate(model, p, { maxNewTokens: 6, ignoreEos: true }));
    const stopAt = single[1].ids[1];
    const batch = await generateBatch(model, prompts, { maxNewTokens: 6, ignoreEos: true });
    batch.forEach((r, i) => expect(Array.from(r.ids), `request ${i}`).toEqual(Array.from(single[i].ids)));
    // A request that stops early leaves the batch; the others go on.
    const events: TokenEvent[] = [];
    const stopped = await generateBatch(model, prompts, { maxNewTokens: 6, ignoreEos: true, stop: [stopAt], onToken: (e) => events.push(e) });
    expect(stopped[1].stopReason).toBe('eos');
    expect(stopped[1].generatedTokens).toBe(Array.from(single[1].ids).indexOf(stopAt) + 1);
    expect(events.filter((e) => e.request === 1)).toHaveLength(stopped[1].generatedTokens);
    // Sampling: request i draws with seed + i.
    const sampled = await generateBatch(model, [prompt, prompt], { maxNewTokens: 8, temperature: 1, seed: 5, ignoreEos: true });
    expect(Array.from(sampled[0].ids)).toEqual(Array.from((await generate(model, prompt, { maxNewTokens: 8, temperature: 1, seed: 5, ignoreEos: true })).ids));
    expect(Array.from(sampled[1].ids)).toEqual(Array.from((await generate(model, prompt, { maxNewTokens: 8, temperature: 1, seed: 6, ignoreEos: true })).ids));
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    const result = await generate(model, prompt, {
      maxNewTokens: 20,
      ignoreEos: true,
      signal: controller.signal,
      onToken: (e) => e.index === 1 && controller.abort(),
    });
    expect(result.stopReason).toBe('aborted');
    expect(result.generatedTokens).toBe(3);
  });

  it('lets the event loop run between tokens, so a timer can abort it (the CPU backend never waits otherwise)', async () => {
    const controller = new AbortController();
    let timerRan = -1;
    let tokens = 0;
    setTimeout(() => {
      timerRan = tokens;
      controller.abort();
    }, 0);
    const result = await generate(model, prompt, { maxNewTokens: 400, ignoreEos: true, signal: controller.signal, onToken: () => void tokens++ });
    expect(result.stopReason).toBe('aborted');
    expect(timerRan).toBeGreaterThanOrEqual(1);
    expect(result.generatedTokens).toBeLessThan(400);
  });

  it('refuses bad options before doing any work', async () => {
    await rejects(generate(model, new Int32Array(0)), 'INVALID_CONFIG', /prompt 0 is empty/);
    await rejects(generate(model, prompt, { maxNewTokens: 0 }), 'INVALID_CONFIG', /maxNewTokens must be a positive integer/);
    await rejects(generate(model, prompt, { prefillChunk: 0 }), 'INVALID_CONFIG', /prefillChunk must be a positive integer/);
    await rejects(generate(model, prompt, { temperature: -1 }), 'INVALID_CONFIG', /temperature/);
    await rejects(generate(model, prompt, { stop: [''] }), 'INVALID_CONFIG', /stop strings must not be empty/);
    await rejects(generate(model, Int32Array.of(1, 200)), 'INDEX_OUT_OF_RANGE', /token id 200/);
    const cache = model.createCache();
    await rejects(generateBatch(model, [prompt, prompt], { cache }), 'INVALID_CONFIG', /must be a cache method/);
    await rejects(generateBatch(model, []), 'INVALID_CONFIG', /at least one prompt/);
    expect(cache.layers[0].length).toBe(0);
    cache.dispose();
  });
});
