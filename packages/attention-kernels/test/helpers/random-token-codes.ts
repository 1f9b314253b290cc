import { packCodes, type Rng, slice, type Tensor, tensor, wordsPerRow } from '@kvkit/tensor-core';
import type { TokenCodesInput } from '../../src/index.js';

/**
 * Random vectors quantized per token with the direct min–max formula (groups of `groupSize`
 * channels, code = round((x − zero) / scale)), packed with tensor-core's `packCodes`, plus the
 * dequantized f32 rows code · scale + zero they stand for (the reference attention reads those).
 * `oneHead`: tensors [n, ·] that are views of the first n rows of a buffer with `spareRows` more
 * (as a store's view of its capacity); otherwise [kvHeads, n, ·].
 */
export function randomTokenCodes(
  rng: Rng,
  o: { kvHeads: number; n: number; dim: number; bits: number; groupSize: number; paramDType?: 'f16' | 'f32'; oneHead?: boolean; spareRows?: number },
): { input: TokenCodesInput; dequantized: Float32Array } {
  const { n, dim, bits, groupSize: g } = o;
  const heads = o.oneHead ? 1 : o.kvHeads;
  const rows = heads * n + (o.oneHead ? (o.spareRows ?? 0) : 0);
  const groups = dim / g;
  const words = wordsPerRow(dim, bits, g);
  const codes = new Uint32Array(rows * words);
  const scales = new Float32Array(rows * groups);
  const zeros = new Float32Array(rows * groups);
  const dequantized = new Float32Array(heads * n * dim);
  const f16 = (x: number) => tensor([x], [1], { dtype: 'f16' }).readFloat32Sync()[0];
  const round = o.paramDType === 'f16' ? f16 : Math.fround;
  const top = 2 ** bits - 1;
  for (let r = 0; r < rows; r++) {
    const rowCodes: number[] = [];
    for (let gi = 0; gi < groups; gi++) {
      const xs = Array.from({ length: g }, () => rng.normal() * 2 + 0.5);
      const lo = Math.min(...xs);
      const scale = round((Math.max(...xs) - lo) / top);
      const zero = round(lo);
      scales[r * groups + gi] = scale;
      zeros[r * groups + gi] = zero;
      xs.forEach((x, c) => {
        const code = Math.max(0, Math.min(top, Math.round((x - zero) / scale)));
        rowCodes.push(code);
        if (r < heads * n) dequantized[r * dim + gi * g + c] = Math.fround(code * scale + zero);
      });
    }
    codes.set(packCodes(rowCodes, dim, bits, g), r * words);
  }
  const dtype = o.paramDType ?? 'f32';
  const make = (data: Uint32Array | Float32Array, width: number, type: 'u32' | 'f16' | 'f32'): Tensor => {
    if (!o.oneHead) return tensor(data, [heads, n, width], { dtype: type });
    const full = tensor(data, [rows, width], { dtype: type });
    return rows === n ? full : slice(full, [0, 0], [n, width]);
  };
  return {
    input: { codes: { bits, groupSize: g, codes: make(codes, words, 'u32'), scales: make(scales, groups, dtype), zeros: make(zeros, groups, dtype) } },
    dequantized,
  };
}
