import { InvalidConfigError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { ShapeMismatchError } from '../errors.js';
import { assertBits, wordsPerRow } from '../packing.js';
import type { Tensor } from '../tensor.js';
import { assertDTypeIn, assertMinRank } from './validate.js';

export interface PackAttrs {
  bits: number;
  /** Codes per group along the last axis (each group starts on a new word); default: the whole row. */
  groupSize: number;
}

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    packBits: { inputs: [Tensor]; attrs: PackAttrs; output: Tensor };
    unpackBits: { inputs: [Tensor]; attrs: PackAttrs & { length: number }; output: Tensor };
  }
}

/**
 * Packs the last axis of a u8/u32 tensor of codes into u32 words in the shared layout
 * (see `packing.ts`): [..., n] → [..., wordsPerRow(n, bits, groupSize)].
 */
export function packBits(codes: Tensor, bits: number, options: { groupSize?: number } = {}): Tensor {
  assertBits(bits, 'packBits');
  assertDTypeIn(codes, ['u8', 'u32'], 'packBits', 'codes');
  assertMinRank(codes, 1, 'packBits', 'codes');
  const groupSize = options.groupSize ?? codes.shape[codes.rank - 1];
  if (!Number.isInteger(groupSize) || groupSize <= 0) throw new InvalidConfigError(`packBits: groupSize must be a positive integer, got ${groupSize}`);
  return runKernel('packBits', [codes], { bits, groupSize });
}

/** Inverse of `packBits`: [..., words] → u8 [..., length]. */
export function unpackBits(words: Tensor, bits: number, length: number, options: { groupSize?: number } = {}): Tensor {
  assertBits(bits, 'unpackBits');
  assertDTypeIn(words, ['u32'], 'unpackBits', 'words');
  assertMinRank(words, 1, 'unpackBits', 'words');
  const groupSize = options.groupSize ?? length;
  if (!Number.isInteger(length) || length < 0) throw new InvalidConfigError(`unpackBits: length must be an integer >= 0, got ${length}`);
  if (!Number.isInteger(groupSize) || groupSize <= 0) throw new InvalidConfigError(`unpackBits: groupSize must be a positive integer, got ${groupSize}`);
  const expected = wordsPerRow(length, bits, groupSize);
  if (words.shape[words.rank - 1] !== expected) {
    throw new ShapeMismatchError(`unpackBits: ${length} ${bits}-bit codes in groups of ${groupSize} take ${expected} words per row, got ${words.shape[words.rank - 1]}`, {
      expected,
      shape: words.shape,
    });
  }
  return runKernel('unpackBits', [words], { bits, groupSize, length });
}
