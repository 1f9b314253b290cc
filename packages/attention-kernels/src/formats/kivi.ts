import {
  f16ArrayToF32, InvalidConfigError, ShapeMismatchError, type Tensor, tensor, unpackCodes, UnsupportedBitWidthError, wordsPerRow,
} from '@kvkit/tensor-core';

/**
 * The KIVI cache format (Liu et al., "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV
 * Cache", 2024) as kvkit stores it: written by @kvkit/kv-quant, read by the fused decode kernels here.
 * Codes use tensor-core's packed layout; dequantization is `code · scale + min` (asymmetric).
 *
 * Keys are quantized per channel, in groups of `groupSize` consecutive tokens (a group is quantized
 * once it is full); values per token, in groups of `valueGroupSize` consecutive channels. The most
 * recent tokens wait in full precision (the residual): keys until their group fills, values for a
 * sliding window. Token order: the quantized tokens (oldest first), then the residual ones.
 *
 * Buffers may be larger than their valid prefix (capacity for allocation-stable decode); kernels
 * read only the counts given here.
 */
export interface KiviCacheView {
  bits: 2 | 4 | 8;
  /** Tokens per key group. */
  groupSize: number;
  /** Channels per value group (divides headDim). */
  valueGroupSize: number;
  kvHeads: number;
  headDim: number;
  /** Total tokens held: keyGroups·groupSize + residual keys = valueTokens + residual values. */
  length: number;
  /** Full key groups quantized. */
  keyGroups: number;
  /** Tokens whose values are quantized. */
  valueTokens: number;
  /** u32 [kvHeads, ≥keyGroups, headDim, wordsPerRow(groupSize, bits)]: row (h, g, c) = channel c of group g's tokens, in token order. */
  keyCodes: Tensor;
  /** f16 or f32 [kvHeads, ≥keyGroups, headDim]. */
  keyScale: Tensor;
  keyMin: Tensor;
  /** u32 [kvHeads, ≥valueTokens, wordsPerRow(headDim, bits, valueGroupSize)]. */
  valueCodes: Tensor;
  /** f16 or f32 [kvHeads, ≥valueTokens, headDim / valueGroupSize]. */
  valueScale: Tensor;
  valueMin: Tensor;
  /** f16 or f32 [kvHeads, ≥residualKeyTokens, headDim]: the newest length − keyGroups·groupSize keys. */
  residualKeys: Tensor;
  /** f16 or f32 [kvHeads, ≥residualValueTokens, headDim]: the newest length − valueTokens values. */
  residualValues: Tensor;
  /** i32 [≥length]: absolute positions of the held tokens, in token order. */
  positions: Tensor;
}

export const KIVI_BITS = [2, 4, 8] as const;

export function residualKeyTokens(view: KiviCacheView): number {
  return view.length - view.keyGroups * view.groupSize;
}

export function residualValueTokens(view: KiviCacheView): number {
  return view.length - view.valueTokens;
}

/** Checks counts and buffer shapes; kernels call it before reading a view. */
export function validateKiviView(view: KiviCacheView, where = 'kivi'): void {
  const { bits, groupSize, valueGroupSize, kvHeads, headDim } = view;
  if (!(KIVI_BITS as readonly number[]).includes(bits)) throw new UnsupportedBitWidthError(bits, KIVI_BITS, where);
  if (!Number.isInteger(groupSize) || groupSize <= 0) throw new InvalidConfigError(`${where}: groupSize must be a positive integer, got ${groupSize}`);
  if (!Number.isInteger(valueGroupSize) || valueGroupSize <= 0 || headDim % valueGroupSize !== 0) {
    throw new InvalidConfigError(`${where}: valueGroupSize ${valueGroupSize} must divide headDim ${headDim}`);
  }
  const rk = residualKeyTokens(view);
  const rv = residualValueTokens(view);
  if (rk < 0 || rv < 0 || view.keyGroups < 0 || view.valueTokens < 0) {
    throw new InvalidConfigError(`${where}: counts do not add up (length ${view.length}, ${view.keyGroups} key groups of ${groupSize}, ${view.valueTokens} value tokens)`);
  }
  const check = (name: string, t: Tensor, dims: number[], minAxis: number | undefined, dtypes: string[]): void => {
    const ok =
      dtypes.includes(t.dtype) &&
      t.rank === dims.length &&
      dims.every((d, i) => (i === minAxis ? t.shape[i] >= d : t.shape[i] === d));
    if (!ok) {
      throw new ShapeMismatchError(`${where}: ${name} must be ${dtypes.join('/')} [${dims.map((d, i) => (i === minAxis ? `≥${d}` : d)).join(', ')}], got ${t.dtype} [${t.shape.join(', ')}]`);
    }
  };
  const float = ['f16', 'f32'];
  check('keyCodes', view.keyCodes, [kvHeads, view.keyGroups, headDim, wordsPerRow(groupSize, bits)], 1, ['u32']);
  check('keyScale', view.keyScale, [kvHeads, view.keyGroups, headDim], 1, float);
  check('keyMin', view.keyMin, [kvHeads, view.keyGroups, headDim], 1, float);
  check('valueCodes', view.valueCodes, [kvHeads, view.valueTokens, wordsPerRow(headDim, bits, valueGroupSize)], 1, ['u32']);
  check('valueScale', view.valueScale, [kvHeads, view.valueTokens, headDim / valueGroupSize], 1, float);
  check('valueMin', view.valueMin, [kvHeads, view.valueTokens, headDim / valueGroupSize], 1, float);
  check('residualKeys', view.residualKeys, [kvHeads, rk, headDim], 1, float);
  check('residualValues', view.residualValues, [kvHeads, rv, headDim], 1, float);
  check('positions', view.positions, [view.length], 0, ['i32']);
}

function floats(t: Tensor): Float32Array {
  return t.dtype === 'f16' ? f16ArrayToF32(t.readSync() as Uint16Array) : (t.readSync() as Float32Array);
}

/**
 * The reference dequantizer (CPU, synchronous): the view's keys and values as f32
 * [kvHeads, length, headDim], residual included. The oracle for every fused KIVI kernel.
 */
export function dequantizeKivi(view: KiviCacheView): { keys: Tensor; values: Tensor } {
  validateKiviView(view, 'dequantizeKivi');
  const { bits, groupSize, valueGroupSize, kvHeads, headDim: d, length, keyGroups, valueTokens } = view;
  const keys = new Float32Array(kvHeads * length * d);
  const values = new Float32Array(kvHeads * length * d);
  const kCodesAll = view.keyCodes.readSync() as Uint32Array;
  const kScale = floats(view.keyScale);
  const kMin = floats(view.keyMin);
  const vCodesAll = view.valueCodes.readSync() as Uint32Array;
  const vScale = floats(view.valueScale);
  const vMin = floats(view.valueMin);
  const rKeys = floats(view.residualKeys);
  const rValues = floats(view.residualValues);
  const kWords = wordsPerRow(groupSize, bits);
  const vWords = wordsPerRow(d, bits, valueGroupSize);
  const kGroupsCap = view.keyCodes.shape[1];
  const vTokensCap = view.valueCodes.shape[1];
  const rkCap = view.residualKeys.shape[1];
  const rvCap = view.residualValues.shape[1];
  const vGroups = d / valueGroupSize;
  for (let h = 0; h < kvHeads; h++) {
    for (let g = 0; g < keyGroups; g++) {
      for (let c = 0; c < d; c++) {
        const row = (h * kGroupsCap + g) * d + c;
        const codes = unpackCodes(kCodesAll.subarray(row * kWords, (row + 1) * kWords), groupSize, bits);
        const s = kScale[(h * kGroupsCap + g) * d + c];
        const m = kMin[(h * kGroupsCap + g) * d + c];
        for (let t = 0; t < groupSize; t++) keys[(h * length + g * groupSize + t) * d + c] = codes[t] * s + m;
      }
    }
    const rk = length - keyGroups * groupSize;
    for (let t = 0; t < rk; t++) {
      for (let c = 0; c < d; c++) keys[(h * length + keyGroups * groupSize + t) * d + c] = rKeys[(h * rkCap + t) * d + c];
    }
    for (let t = 0; t < valueTokens; t++) {
      const row = h * vTokensCap + t;
      const codes = unpackCodes(vCodesAll.subarray(row * vWords, (row + 1) * vWords), d, bits, valueGroupSize);
      for (let c = 0; c < d; c++) {
        const group = Math.floor(c / valueGroupSize);
        values[(h * length + t) * d + c] = codes[c] * vScale[row * vGroups + group] + vMin[row * vGroups + group];
      }
    }
    const rv = length - valueTokens;
    for (let t = 0; t < rv; t++) {
      for (let c = 0; c < d; c++) values[(h * length + valueTokens + t) * d + c] = rValues[(h * rvCap + t) * d + c];
    }
  }
  return { keys: tensor(keys, [kvHeads, length, d]), values: tensor(values, [kvHeads, length, d]) };
}
