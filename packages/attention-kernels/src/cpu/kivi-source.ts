import { valuesPerWord, wordsPerGroup, wordsPerRow } from '@kvkit/tensor-core';
import type { HostFloats } from './host-data.js';
import { RowTileSource, rowsOf } from './tile-source.js';

/** The view's layout numbers a tile loader needs (see `KiviCacheView`). */
export interface KiviLayout {
  bits: number;
  groupSize: number;
  valueGroupSize: number;
  d: number;
  /** Tokens with quantized keys (keyGroups · groupSize) and with quantized values. */
  keyTokens: number;
  valueTokens: number;
  /** Allocated capacity along the token/group axis of each buffer. */
  keyGroupCapacity: number;
  valueTokenCapacity: number;
  residualKeyCapacity: number;
  residualValueCapacity: number;
}

/** The view's buffers as host arrays (scales and mins decoded to f32 once per call: they are small). */
export interface KiviBuffers {
  keyCodes: Uint32Array;
  keyScale: Float32Array;
  keyMin: Float32Array;
  valueCodes: Uint32Array;
  valueScale: Float32Array;
  valueMin: Float32Array;
  residualKeys: HostFloats;
  residualValues: HostFloats;
}

/**
 * One KV head of a KIVI cache, read a tile at a time: `load` unpacks and dequantizes just that tile
 * (keys per channel: code · scale[g, c] + min[g, c]; values per token and channel group), or points
 * at the full-precision residual rows, and the shared dense loops score and accumulate it. No full
 * dequantized copy exists at any time. A tile never straddles a key group or the quantized/residual
 * boundaries (the kernel cuts the token range there).
 */
export class KiviRowSource extends RowTileSource {
  private head = 0;
  private readonly mask: number;
  private readonly vpw: number;
  private readonly keyWords: number;
  private readonly valueWords: number;
  private readonly valueWordsPerGroup: number;

  constructor(
    private readonly layout: KiviLayout,
    private readonly buffers: KiviBuffers,
    positions: Int32Array,
    tileCapacity: number,
  ) {
    super(layout.d, layout.d, tileCapacity);
    this.positions = positions;
    this.mask = 2 ** layout.bits - 1;
    this.vpw = valuesPerWord(layout.bits);
    this.keyWords = wordsPerRow(layout.groupSize, layout.bits);
    this.valueWords = wordsPerRow(layout.d, layout.bits, layout.valueGroupSize);
    this.valueWordsPerGroup = wordsPerGroup(layout.valueGroupSize, layout.bits);
  }

  bindHead(h: number): this {
    this.head = h;
    return this;
  }

  load(a: number, b: number): void {
    const L = this.layout;
    const { d } = L;
    const count = b - a;
    if (b <= L.keyTokens) {
      this.unpackKeys(a, b);
      this.kTile = this.kScratch;
      this.kOff = 0;
    } else {
      [this.kTile, this.kOff] = rowsOf(this.buffers.residualKeys, (this.head * L.residualKeyCapacity + a - L.keyTokens) * d, count * d, this.kScratch);
    }
    if (b <= L.valueTokens) {
      this.unpackValues(a, b);
      this.vTile = this.vScratch;
      this.vOff = 0;
    } else {
      [this.vTile, this.vOff] = rowsOf(this.buffers.residualValues, (this.head * L.residualValueCapacity + a - L.valueTokens) * d, count * d, this.vScratch);
    }
  }

  /** Keys of tokens [a, b) inside one group: channel rows of packed codes → token-major f32 scratch. */
  private unpackKeys(a: number, b: number): void {
    const { groupSize, d, bits, keyGroupCapacity } = this.layout;
    const { keyCodes, keyScale, keyMin } = this.buffers;
    const { mask, vpw, keyWords } = this;
    const out = this.kScratch;
    const g = Math.floor(a / groupSize);
    const u0 = a - g * groupSize;
    const u1 = b - g * groupSize;
    for (let c = 0; c < d; c++) {
      const row = (this.head * keyGroupCapacity + g) * d + c;
      const scale = keyScale[row];
      const min = keyMin[row];
      const wordBase = row * keyWords;
      let u = u0;
      while (u < u1) {
        const wi = Math.floor(u / vpw);
        let word = keyCodes[wordBase + wi] >>> ((u - wi * vpw) * bits);
        const end = Math.min(u1, (wi + 1) * vpw);
        for (; u < end; u++, word >>>= bits) out[(u - u0) * d + c] = (word & mask) * scale + min;
      }
    }
  }

  /** Values of tokens [a, b): one row of packed codes per token, groups of channels. */
  private unpackValues(a: number, b: number): void {
    const { valueGroupSize, d, bits, valueTokenCapacity } = this.layout;
    const { valueCodes, valueScale, valueMin } = this.buffers;
    const { mask, vpw, valueWords, valueWordsPerGroup } = this;
    const groups = d / valueGroupSize;
    const out = this.vScratch;
    for (let t = a; t < b; t++) {
      const row = this.head * valueTokenCapacity + t;
      const o = (t - a) * d;
      for (let gi = 0; gi < groups; gi++) {
        const scale = valueScale[row * groups + gi];
        const min = valueMin[row * groups + gi];
        const wordBase = row * valueWords + gi * valueWordsPerGroup;
        const c0 = o + gi * valueGroupSize;
        for (let j = 0; j < valueGroupSize; j += vpw) {
          let word = valueCodes[wordBase + j / vpw];
          const end = Math.min(valueGroupSize, j + vpw);
          for (let jj = j; jj < end; jj++, word >>>= bits) out[c0 + jj] = (word & mask) * scale + min;
        }
      }
    }
  }
}
