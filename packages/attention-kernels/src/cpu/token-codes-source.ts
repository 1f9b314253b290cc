import { hostFloat32, hostView, type Tensor, valuesPerWord, wordsPerGroup, wordsPerRow } from '@kvkit/tensor-core';
import { RowTileSource } from './tile-source.js';

/** One `TokenCodes` as host arrays: the packed words in place, scales and zeros as f32 (they are small). */
export interface HostTokenCodes {
  words: Uint32Array;
  scales: Float32Array;
  zeros: Float32Array;
  bits: number;
  groupSize: number;
  /** Channels each row decodes to. */
  dim: number;
}

export function hostTokenCodes(codes: Tensor, scales: Tensor, zeros: Tensor, bits: number, groupSize: number): HostTokenCodes {
  const groups = scales.shape[scales.rank - 1];
  return { words: hostView(codes) as Uint32Array, scales: hostFloat32(scales), zeros: hostFloat32(zeros), bits, groupSize, dim: groups * groupSize };
}

/**
 * Dequantizes rows [row, row + count) of per-token codes into `out` (row-major [count, dim]):
 * channel c of a row is code · scale[g] + zero[g] for its group g, rounded to f32 — the value a
 * store's own dequantization gives. Whole words are shifted out in order (no per-code division).
 */
export function dequantizeTokenRows(src: HostTokenCodes, row: number, count: number, out: Float32Array): void {
  const { words, scales, zeros, bits, groupSize, dim } = src;
  const groups = dim / groupSize;
  const vpw = valuesPerWord(bits);
  const perGroup = wordsPerGroup(groupSize, bits);
  const rowWords = wordsPerRow(dim, bits, groupSize);
  const mask = 2 ** bits - 1;
  for (let t = 0; t < count; t++) {
    const r = row + t;
    const o = t * dim;
    for (let g = 0; g < groups; g++) {
      const scale = scales[r * groups + g];
      const zero = zeros[r * groups + g];
      const wordBase = r * rowWords + g * perGroup;
      const c0 = o + g * groupSize;
      for (let j = 0, w = 0; j < groupSize; j += vpw, w++) {
        let word = words[wordBase + w];
        const end = Math.min(groupSize, j + vpw);
        for (let c = j; c < end; c++, word >>>= bits) out[c0 + c] = (word & mask) * scale + zero;
      }
    }
  }
}

/**
 * One KV head of per-token codes (`TokenCodes`), read a tile at a time: `load` dequantizes just the
 * tile's keys and values into tile-sized scratch and the shared dense loops score and accumulate it
 * (each decoded element then feeds every query row of the block). No dequantized copy of the head
 * exists at any time. Without values (statistics only) only the keys are decoded.
 */
export class TokenCodesRowSource extends RowTileSource {
  private keys!: HostTokenCodes;
  private values: HostTokenCodes | undefined;
  private rowBase = 0;

  /**
   * Token t of the source is row `rowBase + t` of the codes; its position is
   * `positions[positionBase + t]`, its log weight `logWeights[logWeightBase + t]`.
   */
  bind(keys: HostTokenCodes, values: HostTokenCodes | undefined, rowBase: number, positions: Int32Array, positionBase: number, logWeights: Float32Array | undefined, logWeightBase: number): this {
    this.keys = keys;
    this.values = values;
    this.rowBase = rowBase;
    this.positions = positions;
    this.positionBase = positionBase;
    this.logWeights = logWeights;
    this.logWeightBase = logWeightBase;
    return this;
  }

  load(a: number, b: number): void {
    dequantizeTokenRows(this.keys, this.rowBase + a, b - a, this.kScratch);
    this.kTile = this.kScratch;
    this.kOff = 0;
    if (this.values) {
      dequantizeTokenRows(this.values, this.rowBase + a, b - a, this.vScratch);
      this.vTile = this.vScratch;
      this.vOff = 0;
    }
  }
}
