import { InvalidConfigError, UnsupportedBitWidthError } from './errors.js';

/**
 * THE packed low-bit layout, shared by every backend (CPU, WebGPU, CUDA) and every package.
 *
 * - Codes are unsigned integers in [0, 2^bits) for bits ∈ {1, 2, 3, 4, 8}.
 * - A u32 word holds `valuesPerWord = floor(32 / bits)` codes: 32, 16, 10, 8, 4. A code never
 *   straddles two words (3-bit words leave their top 2 bits zero), so a kernel extracts any code
 *   with one load, a shift and a mask.
 * - Within a word, code j sits at bits [j·bits, (j+1)·bits): the first code in the least
 *   significant bits (little-endian bit order).
 * - Words follow each other in code order (word w holds codes w·vpw … w·vpw + vpw − 1).
 * - A row of n codes is cut into groups of `groupSize` codes (default: the whole row); each group
 *   starts on a fresh word and takes `ceil(groupSize / vpw)` words; the last group may be shorter.
 *   Rows are stored one after another, `wordsPerRow(n, bits, groupSize)` words each. Unused bits
 *   are zero.
 *
 * Scales and zero points are not part of this layout: each quantizer stores them as separate
 * tensors (f16 or f32) next to the words and documents their shape.
 */
export const SUPPORTED_BITS: readonly number[] = [1, 2, 3, 4, 8];

export function assertBits(bits: number, where: string): void {
  if (!SUPPORTED_BITS.includes(bits)) throw new UnsupportedBitWidthError(bits, SUPPORTED_BITS, where);
}

export function valuesPerWord(bits: number): number {
  assertBits(bits, 'valuesPerWord');
  return Math.floor(32 / bits);
}

/** Words one group of `groupSize` codes occupies. */
export function wordsPerGroup(groupSize: number, bits: number): number {
  return Math.ceil(groupSize / valuesPerWord(bits));
}

/** Words a row of `n` codes occupies when cut into groups of `groupSize` (default n). */
export function wordsPerRow(n: number, bits: number, groupSize = n): number {
  if (n === 0) return 0;
  assertGroupSize(groupSize, 'wordsPerRow');
  const full = Math.floor(n / groupSize);
  const tail = n - full * groupSize;
  return full * wordsPerGroup(groupSize, bits) + (tail > 0 ? wordsPerGroup(tail, bits) : 0);
}

function assertGroupSize(groupSize: number, where: string): void {
  if (!Number.isInteger(groupSize) || groupSize <= 0) {
    throw new InvalidConfigError(`${where}: groupSize must be a positive integer, got ${groupSize}`, { groupSize });
  }
}

/** Word index and bit shift of code `i` of a row, in the layout above. */
export function codeLocation(i: number, bits: number, groupSize: number): { word: number; shift: number } {
  const vpw = valuesPerWord(bits);
  const group = Math.floor(i / groupSize);
  const inGroup = i - group * groupSize;
  const word = group * wordsPerGroup(groupSize, bits) + Math.floor(inGroup / vpw);
  return { word, shift: (inGroup % vpw) * bits };
}

/**
 * Packs `rows` rows of `n` codes each (row-major in `codes`) into u32 words. Throws on a code that
 * does not fit in `bits`.
 */
export function packCodes(
  codes: ArrayLike<number>,
  n: number,
  bits: number,
  groupSize = n,
  out?: Uint32Array,
): Uint32Array {
  assertBits(bits, 'packCodes');
  if (n === 0) return out ?? new Uint32Array(0);
  assertGroupSize(groupSize, 'packCodes');
  if (codes.length % n !== 0) throw new InvalidConfigError(`packCodes: ${codes.length} codes are not whole rows of ${n}`);
  const rows = codes.length / n;
  const vpw = Math.floor(32 / bits);
  const perGroup = Math.ceil(groupSize / vpw);
  const rowWords = wordsPerRow(n, bits, groupSize);
  const words = out ?? new Uint32Array(rows * rowWords);
  const limit = 2 ** bits;
  for (let r = 0; r < rows; r++) {
    const src = r * n;
    const dst = r * rowWords;
    for (let i = 0; i < n; i++) {
      const c = codes[src + i];
      if (!(c >= 0 && c < limit && Number.isInteger(c))) {
        throw new InvalidConfigError(`packCodes: code ${c} at row ${r}, index ${i} does not fit in ${bits} bits`, { code: c, row: r, index: i });
      }
      const g = Math.floor(i / groupSize);
      const j = i - g * groupSize;
      const w = dst + g * perGroup + Math.floor(j / vpw);
      words[w] = (words[w] | (c << ((j % vpw) * bits))) >>> 0;
    }
  }
  return words;
}

/** Inverse of `packCodes`: `rows` rows of `n` codes each. */
export function unpackCodes(words: Uint32Array, n: number, bits: number, groupSize = n, out?: Uint8Array): Uint8Array {
  assertBits(bits, 'unpackCodes');
  if (n === 0) return out ?? new Uint8Array(0);
  assertGroupSize(groupSize, 'unpackCodes');
  const rowWords = wordsPerRow(n, bits, groupSize);
  if (words.length % rowWords !== 0) {
    throw new InvalidConfigError(`unpackCodes: ${words.length} words are not whole rows of ${rowWords} words`, { words: words.length, rowWords });
  }
  const rows = words.length / rowWords;
  const vpw = Math.floor(32 / bits);
  const perGroup = Math.ceil(groupSize / vpw);
  const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
  const codes = out ?? new Uint8Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const src = r * rowWords;
    const dst = r * n;
    for (let i = 0; i < n; i++) {
      const g = Math.floor(i / groupSize);
      const j = i - g * groupSize;
      codes[dst + i] = (words[src + g * perGroup + Math.floor(j / vpw)] >>> ((j % vpw) * bits)) & mask;
    }
  }
  return codes;
}
