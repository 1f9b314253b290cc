import { f16BitsToNumber, stageFloat32, valuesPerWord, wordsPerGroup, wordsPerRow } from '@kvkit/tensor-core';
import type { HostFloats } from './host-data.js';
import { codeKeyScores, codeValueAccumulate, kiviCodeLoopsAvailable, type QuantizedKeys, type QuantizedValues } from './kivi-code-loops.js';
import { type QueryBlock, RowTileSource, type TileStaging } from './tile-source.js';

/** kivi-rows.wat's kernels, bound in row-attention.ts's arena. */
export interface KiviRowKernels {
  kiviKeyRows(codes: number, words: number, bits: number, d: number, scales: number, mins: number, u0: number, u1: number, out: number): void;
  kiviValueRows(codes: number, rowWords: number, groupWords: number, group: number, bits: number, d: number, scales: number, mins: number, count: number, out: number): void;
}

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

/** The view's buffers as host arrays, in place: scales and minimums f32, or f16 bit patterns. */
export interface KiviBuffers {
  keyCodes: Uint32Array;
  keyScale: HostFloats;
  keyMin: HostFloats;
  valueCodes: Uint32Array;
  valueScale: HostFloats;
  valueMin: HostFloats;
  residualKeys: HostFloats;
  residualValues: HostFloats;
}

/**
 * One KV head of a KIVI cache, read a tile at a time. Quantized keys and values are scored and
 * summed straight from their codes in WebAssembly SIMD (kivi-code-loops.ts); where that does not
 * run (SIMD off, or value groups that are not a multiple of 4 channels), `load` unpacks and
 * dequantizes just that tile (keys per channel: code · scale[g, c] + min[g, c]; values per token
 * and channel group) for the shared dense loops. Full-precision residual rows go to the dense
 * loops in place. No full dequantized copy exists at any time. A tile may span key groups but never
 * the quantized/residual boundaries (the kernel cuts the token range there).
 */
export class KiviRowSource extends RowTileSource {
  private head = 0;
  private readonly mask: number;
  private readonly vpw: number;
  private readonly keyWords: number;
  private readonly valueWords: number;
  private readonly valueWordsPerGroup: number;
  /** The bound head's quantized keys and values as the code loops read them. */
  private readonly keys: QuantizedKeys;
  private readonly values: QuantizedValues;
  /** Whether quantized keys / values are read from their codes here (decided once per kernel call). */
  private readonly codeKeys: boolean;
  private readonly codeValues: boolean;
  /** The loaded tile: its tokens, and whether its keys / values are read from their codes. */
  private tileStart = 0;
  private tileEnd = 0;
  private keysFromCodes = false;
  private valuesFromCodes = false;

  constructor(
    private readonly layout: KiviLayout,
    private readonly buffers: KiviBuffers,
    positions: Int32Array,
    tileCapacity: number,
  ) {
    super(layout.d, layout.d, tileCapacity);
    const { bits, d, groupSize, valueGroupSize } = layout;
    this.positions = positions;
    this.mask = 2 ** bits - 1;
    this.vpw = valuesPerWord(bits);
    this.keyWords = wordsPerRow(groupSize, bits);
    this.valueWords = wordsPerRow(d, bits, valueGroupSize);
    this.valueWordsPerGroup = wordsPerGroup(valueGroupSize, bits);
    this.codeKeys = kiviCodeLoopsAvailable();
    this.codeValues = this.codeKeys && valueGroupSize % 4 === 0;
    this.keys = { bits, d, groupSize, codes: buffers.keyCodes, codeStart: 0, groupWords: this.keyWords, scale: buffers.keyScale, min: buffers.keyMin, scaleStart: 0 };
    this.values = {
      bits,
      groups: d / valueGroupSize,
      groupSize: valueGroupSize,
      codes: buffers.valueCodes,
      codeStart: 0,
      rowWords: this.valueWords,
      groupWords: this.valueWordsPerGroup,
      scale: buffers.valueScale,
      min: buffers.valueMin,
      scaleStart: 0,
    };
  }

  bindHead(h: number): this {
    const { d, keyGroupCapacity, valueTokenCapacity } = this.layout;
    this.head = h;
    this.keys.scaleStart = h * keyGroupCapacity * d;
    this.keys.codeStart = this.keys.scaleStart * this.keyWords;
    this.values.codeStart = h * valueTokenCapacity * this.valueWords;
    this.values.scaleStart = h * valueTokenCapacity * this.values.groups;
    return this;
  }

  load(a: number, b: number): void {
    const L = this.layout;
    this.tileStart = a;
    this.tileEnd = b;
    this.keysFromCodes = this.codeKeys && b <= L.keyTokens;
    this.valuesFromCodes = this.codeValues && b <= L.valueTokens;
    if (b > L.keyTokens) {
      this.kTile = this.buffers.residualKeys;
      this.kOff = this.residualKeyOffset(a);
    } else if (!this.keysFromCodes) this.dequantizeKeys();
    if (b > L.valueTokens) {
      this.vTile = this.buffers.residualValues;
      this.vOff = this.residualValueOffset(a);
    } else if (!this.valuesFromCodes) this.dequantizeValues();
  }

  override scores(block: QueryBlock, active: Uint8Array, count: number, out: Float64Array, stride: number): void {
    if (this.keysFromCodes) {
      if (codeKeyScores(block.q, block.rows, active, this.keys, this.tileStart, count, out, stride)) return;
      this.keysFromCodes = false; // no arena that large could be had: dequantize after all
      this.dequantizeKeys();
    }
    super.scores(block, active, count, out, stride);
  }

  override accumulate(block: QueryBlock, active: Uint8Array, count: number, p: Float64Array, stride: number, acc: Float64Array): void {
    if (this.valuesFromCodes) {
      if (codeValueAccumulate(p, stride, block.rows, active, this.values, this.tileStart, count, acc)) return;
      this.valuesFromCodes = false;
      this.dequantizeValues();
    }
    super.accumulate(block, active, count, p, stride, acc);
  }

  /**
   * The row kernel's tile (row-attention.ts): quantized keys and values dequantized into it in SIMD
   * (kivi-rows.wat, from their codes, scales and minimums copied into the scratch first: a few bytes
   * a token), residual rows copied in as they are. Value groups that are not a multiple of 4
   * channels are dequantized in JavaScript.
   */
  override stageRows(staging: TileStaging, a: number, count: number): void {
    const L = this.layout;
    const { d, groupSize: G, bits } = L;
    const { arena, base, f32, u32, scratch } = staging;
    const { kernels } = arena;
    const b = a + count;
    if (b > L.keyTokens) {
      stageFloat32(arena, this.buffers.residualKeys, this.residualKeyOffset(a), count * d, staging.keys);
    } else {
      // One key group at a time: its d code rows, then its d scales and d minimums, in the scratch.
      const codes = scratch;
      const scales = codes + 4 * d * this.keyWords;
      const mins = scales + 4 * d;
      for (let g = Math.floor(a / G); g * G < b; g++) {
        const row = (this.head * L.keyGroupCapacity + g) * d;
        u32.set(this.buffers.keyCodes.subarray(row * this.keyWords, (row + d) * this.keyWords), (codes - base) >> 2);
        stageFloat32(arena, this.buffers.keyScale, row, d, scales);
        stageFloat32(arena, this.buffers.keyMin, row, d, mins);
        const u0 = Math.max(a, g * G) - g * G;
        const u1 = Math.min(b, (g + 1) * G) - g * G;
        kernels.kiviKeyRows(codes, this.keyWords, bits, d, scales, mins, u0, u1, staging.keys + 4 * (g * G + u0 - a) * d);
      }
    }
    if (!staging.withValues) return;
    if (b > L.valueTokens) {
      stageFloat32(arena, this.buffers.residualValues, this.residualValueOffset(a), count * d, staging.values);
    } else if (L.valueGroupSize % 4 === 0) {
      const groups = d / L.valueGroupSize;
      const codes = scratch;
      const scales = codes + 4 * count * this.valueWords;
      const mins = scales + 4 * count * groups;
      const row = this.head * L.valueTokenCapacity + a;
      u32.set(this.buffers.valueCodes.subarray(row * this.valueWords, (row + count) * this.valueWords), (codes - base) >> 2);
      stageFloat32(arena, this.buffers.valueScale, row * groups, count * groups, scales);
      stageFloat32(arena, this.buffers.valueMin, row * groups, count * groups, mins);
      kernels.kiviValueRows(codes, this.valueWords, this.valueWordsPerGroup, L.valueGroupSize, bits, d, scales, mins, count, staging.values);
    } else {
      this.unpackValues(a, b);
      f32.set(this.vScratch.subarray(0, count * d), (staging.values - base) >> 2);
    }
  }

  /** The larger of one key group's codes, scales and minimums and a tile's value codes, scales and minimums. */
  override stagingScratchBytes(tile: number): number {
    const { d, valueGroupSize } = this.layout;
    return 4 * Math.max(d * this.keyWords + 2 * d, tile * (this.valueWords + 2 * (d / valueGroupSize)));
  }

  /** Where residual key / value row of token a (past the quantized ones) starts in its buffer, in elements. */
  private residualKeyOffset(a: number): number {
    const L = this.layout;
    return (this.head * L.residualKeyCapacity + a - L.keyTokens) * L.d;
  }

  private residualValueOffset(a: number): number {
    const L = this.layout;
    return (this.head * L.residualValueCapacity + a - L.valueTokens) * L.d;
  }

  private dequantizeKeys(): void {
    this.unpackKeys(this.tileStart, this.tileEnd);
    this.kTile = this.kScratch;
    this.kOff = 0;
  }

  private dequantizeValues(): void {
    this.unpackValues(this.tileStart, this.tileEnd);
    this.vTile = this.vScratch;
    this.vOff = 0;
  }

  /** Keys of tokens [a, b): each group's channel rows of packed codes → token-major f32 scratch. */
  private unpackKeys(a: number, b: number): void {
    const { groupSize, d, bits, keyGroupCapacity } = this.layout;
    const { keyCodes, keyScale, keyMin } = this.buffers;
    const { mask, vpw, keyWords } = this;
    const out = this.kScratch;
    for (let g = Math.floor(a / groupSize); g * groupSize < b; g++) {
      const start = g * groupSize;
      const u0 = Math.max(a, start) - start;
      const u1 = Math.min(b, start + groupSize) - start;
      const at = start - a; // token u of the group is row at + u of the tile
      for (let c = 0; c < d; c++) {
        const row = (this.head * keyGroupCapacity + g) * d + c;
        const scale = floatAt(keyScale, row);
        const min = floatAt(keyMin, row);
        const wordBase = row * keyWords;
        let u = u0;
        while (u < u1) {
          const wi = Math.floor(u / vpw);
          let word = keyCodes[wordBase + wi] >>> ((u - wi * vpw) * bits);
          const end = Math.min(u1, (wi + 1) * vpw);
          for (; u < end; u++, word >>>= bits) out[(at + u) * d + c] = (word & mask) * scale + min;
        }
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
        const scale = floatAt(valueScale, row * groups + gi);
        const min = floatAt(valueMin, row * groups + gi);
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

/** Element i of f32 values or f16 bit patterns, as a number. */
function floatAt(values: HostFloats, i: number): number {
  return values instanceof Float32Array ? values[i] : f16BitsToNumber(values[i]);
}
