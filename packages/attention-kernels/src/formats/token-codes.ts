import { InvalidConfigError, ShapeMismatchError, type Tensor, type TokenCodes, UnsupportedBitWidthError, UnsupportedDTypeError, wordsPerRow } from '@kvkit/tensor-core';

/**
 * Keys or values given as per-token codes (tensor-core's `TokenCodes`, what a quantized token store
 * such as @kvkit/kv-quant's `quantizedStore` holds) instead of a float tensor: `decodeAttention`,
 * `flashAttention` and `attentionStatistics` read them in place, dequantizing one tile at a time.
 * The tensors are [n, ·] (one KV head) or [kvHeads, n, ·].
 */
export interface TokenCodesInput {
  codes: TokenCodes;
}

/** Bit widths the code-reading kernels take (those of tensor-core's packed layout a store writes). */
export const TOKEN_CODE_BITS = [2, 3, 4, 8] as const;

export function isTokenCodesInput(x: unknown): x is TokenCodesInput {
  return typeof x === 'object' && x !== null && 'codes' in x && typeof (x as TokenCodesInput).codes === 'object';
}

/** The sizes of a checked `TokenCodes`: KV heads, tokens and the dimension the codes decode to. */
export interface TokenCodesShape {
  kvHeads: number;
  n: number;
  dim: number;
}

/**
 * Checks a `TokenCodes` (bits, group, dtypes, shapes) and returns its sizes. `dim` is the dimension
 * the rows must decode to (keys: q's head dimension); absent, it is read off the scales (values).
 */
export function validateTokenCodes(codes: TokenCodes, where: string, name: string, dim?: number): TokenCodesShape {
  const { bits, groupSize, scales, zeros } = codes;
  if (!(TOKEN_CODE_BITS as readonly number[]).includes(bits)) throw new UnsupportedBitWidthError(bits, TOKEN_CODE_BITS, `${where} (${name})`);
  if (!Number.isInteger(groupSize) || groupSize <= 0) throw new InvalidConfigError(`${where}: ${name}.groupSize must be a positive integer, got ${groupSize}`, { groupSize });
  if (codes.codes.dtype !== 'u32') throw new UnsupportedDTypeError(`${where}: ${name}.codes must be u32, got ${codes.codes.dtype}`, { dtype: codes.codes.dtype });
  for (const [part, t] of [['scales', scales], ['zeros', zeros]] as const) {
    if (t.dtype !== 'f16' && t.dtype !== 'f32') throw new UnsupportedDTypeError(`${where}: ${name}.${part} must be f16 or f32, got ${t.dtype}`, { dtype: t.dtype });
  }
  if (zeros.dtype !== scales.dtype) throw new UnsupportedDTypeError(`${where}: ${name}.scales are ${scales.dtype} but ${name}.zeros are ${zeros.dtype}`);
  const rank = codes.codes.rank;
  if (rank !== 2 && rank !== 3) throw new ShapeMismatchError(`${where}: ${name}.codes must be [n, words] or [kvHeads, n, words], got [${codes.codes.shape.join(', ')}]`);
  const lead = codes.codes.shape.slice(0, -1);
  const groups = scales.shape[scales.rank - 1] ?? 0;
  const decoded = dim ?? groups * groupSize;
  if (decoded % groupSize !== 0) {
    throw new InvalidConfigError(`${where}: ${name}.groupSize ${groupSize} does not divide the head dimension ${decoded}`, { groupSize, dim: decoded });
  }
  const expect = (part: string, t: Tensor, last: number) => {
    const ok = t.rank === rank && lead.every((s, i) => t.shape[i] === s) && t.shape[rank - 1] === last;
    if (!ok) throw new ShapeMismatchError(`${where}: ${name}.${part} must be [${[...lead, last].join(', ')}], got [${t.shape.join(', ')}]`, { shape: t.shape });
  };
  expect('scales', scales, decoded / groupSize);
  expect('zeros', zeros, decoded / groupSize);
  expect('codes', codes.codes, wordsPerRow(decoded, bits, groupSize));
  return { kvHeads: rank === 3 ? lead[0] : 1, n: lead[rank - 2], dim: decoded };
}
