import { fileURLToPath } from 'node:url';
import { loadModel } from '@kvkit/llm';
import { describe, expect, it } from 'vitest';
import { withTokenClasses } from '../src/token-classes.js';

const KVKIT_TINY = fileURLToPath(new URL('../../../models/kvkit-tiny/', import.meta.url));

describe('FastGen token classes from the model vocabulary', () => {
  it("kv-evict's context gets the special and punctuation ids of the shipped tokenizer; other contexts stay", async () => {
    const model = await loadModel(KVKIT_TINY);
    const calibration = { calibration: 'kept' };
    const contexts = await withTokenClasses(new Map([['@kvkit/kv-quant', calibration]]), model);
    const classes = (contexts.get('@kvkit/kv-evict') as { tokenClasses: { special: Int32Array; punctuation: Int32Array } }).tokenClasses;
    const id = (token: string) => model.tokenizer.tokenToId(token)!;
    expect(Array.from(classes.special)).toContain(id('<|endoftext|>'));
    for (const p of ['.', ',', 'Ġ"']) expect(Array.from(classes.punctuation), p).toContain(id(p));
    expect(Array.from(classes.punctuation)).not.toContain(id('the'));
    expect(contexts.get('@kvkit/kv-quant')).toBe(calibration);
    model.dispose();
  });
});
