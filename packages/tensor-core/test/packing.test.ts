import { describe, expect, it } from 'vitest';
import { codeLocation, packBits, packCodes, tensor, unpackBits, unpackCodes, valuesPerWord, wordsPerRow } from '../src/index.js';
import { withSeed } from '../src/testing/index.js';

describe('packed low-bit layout', () => {
  it('puts code j of a word at bits [j·bits, (j+1)·bits), little-endian, no straddling', () => {
    expect([1, 2, 3, 4, 8].map(valuesPerWord)).toEqual([32, 16, 10, 8, 4]);
    // 2-bit codes 1,2,3,0,... → word = 1 | 2<<2 | 3<<4
    expect(Array.from(packCodes([1, 2, 3, 0], 4, 2))).toEqual([1 | (2 << 2) | (3 << 4)]);
    // 3-bit: 10 codes per word, the 11th starts a new word
    const codes = Array.from({ length: 11 }, (_, i) => i % 8);
    const words = packCodes(codes, 11, 3);
    expect(words.length).toBe(2);
    expect(words[0] >>> 30).toBe(0); // top 2 bits unused
    expect(words[1]).toBe(codes[10]);
    // groups start on fresh words: 5 codes of 4 bits per group → each group one word
    expect(wordsPerRow(10, 4, 5)).toBe(2);
    expect(codeLocation(7, 4, 5)).toEqual({ word: 1, shift: 8 });
  });

  for (const bits of [1, 2, 3, 4, 8]) {
    it(`round-trips random ${bits}-bit codes for random row lengths and group sizes (property)`, () =>
      withSeed((rng) => {
        for (let trial = 0; trial < 25; trial++) {
          const n = 1 + rng.int(200);
          const group = rng.uniform() < 0.3 ? n : 1 + rng.int(n);
          const rows = 1 + rng.int(4);
          const codes = Array.from({ length: rows * n }, () => rng.int(2 ** bits));
          const words = packCodes(codes, n, bits, group);
          expect(words.length).toBe(rows * wordsPerRow(n, bits, group));
          expect(Array.from(unpackCodes(words, n, bits, group))).toEqual(codes);
          // every code is where codeLocation says
          const rowWords = wordsPerRow(n, bits, group);
          for (let i = 0; i < n; i += 1 + rng.int(7)) {
            const { word, shift } = codeLocation(i, bits, group);
            expect((words[word] >>> shift) & (2 ** bits - 1)).toBe(codes[i]);
            expect(((words[rowWords * (rows - 1) + word] >>> shift) & (2 ** bits - 1)) >>> 0).toBe(codes[(rows - 1) * n + i]);
          }
        }
      }));
  }

  it('packBits/unpackBits ops match the host functions and validate input', () =>
    withSeed((rng) => {
      const codes = Array.from({ length: 3 * 40 }, () => rng.int(16));
      const t = tensor(codes, [3, 40], { dtype: 'u8' });
      const words = packBits(t, 4, { groupSize: 16 });
      expect(words.shape).toEqual([3, wordsPerRow(40, 4, 16)]);
      expect(Array.from(words.readSync())).toEqual(Array.from(packCodes(codes, 40, 4, 16)));
      expect(Array.from(unpackBits(words, 4, 40, { groupSize: 16 }).readSync())).toEqual(codes);
      expect(() => packBits(t, 5)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_BIT_WIDTH' }));
      expect(() => packBits(tensor([4], [1], { dtype: 'u8' }), 2)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => packBits(tensor([1], [1]), 2)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
      expect(() => unpackBits(words, 4, 41, { groupSize: 16 })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    }));
});
