import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type LlamaModel, loadModel, streamGenerate, type TokenEvent } from '../src/index.js';
import { expectKvkitErrorAsync } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';

describe('streamGenerate', () => {
  let model: LlamaModel;
  beforeAll(async () => {
    model = await loadModel(join(TORCH_REFERENCE, 'llama'));
  });
  afterAll(() => model.dispose());

  it('gives every token event to a for-await loop, as onToken gets them, and the same result as generate', async () => {
    const expected = await generate(model, 'Call me Ishmael', { maxNewTokens: 12, ignoreEos: true });
    const seen: TokenEvent[] = [];
    const stream = streamGenerate(model, 'Call me Ishmael', { maxNewTokens: 12, ignoreEos: true, onToken: (e) => seen.push(e) });
    const looped: TokenEvent[] = [];
    for await (const event of stream) looped.push(event);
    const result = await stream.result;
    expect(looped).toEqual(seen);
    expect(looped.map((e) => e.id)).toEqual(Array.from(expected.ids));
    expect(looped.map((e) => e.text).join('')).toBe(expected.text);
    expect(result).toMatchObject({ stopReason: 'length', generatedTokens: 12, text: expected.text });
    // One loop per stream.
    const again: TokenEvent[] = [];
    for await (const event of stream) again.push(event);
    expect(again).toEqual([]);
  });

  it('stops generating when the loop is left early, and by an outer abort signal', async () => {
    const stream = streamGenerate(model, 'Call me Ishmael', { maxNewTokens: 40, ignoreEos: true });
    let count = 0;
    for await (const _event of stream) if (++count === 3) break;
    const result = await stream.result;
    expect(result.stopReason).toBe('aborted');
    expect(result.generatedTokens).toBeLessThan(40);
    const outer = new AbortController();
    const aborted = streamGenerate(model, 'Call me Ishmael', { maxNewTokens: 40, ignoreEos: true, signal: outer.signal });
    let n = 0;
    for await (const _event of aborted) if (++n === 2) outer.abort();
    expect((await aborted.result).stopReason).toBe('aborted');
    expect(n).toBeLessThan(40);
  });

  it('throws a failed generation’s error from the loop and from result', async () => {
    const stream = streamGenerate(model, 'Call me Ishmael', { maxNewTokens: -1 });
    await expectKvkitErrorAsync(
      (async () => {
        for await (const _event of stream);
      })(),
      'INVALID_CONFIG',
      /maxNewTokens must be a positive integer/,
    );
    await expectKvkitErrorAsync(stream.result, 'INVALID_CONFIG');
  });
});
