import { InvalidConfigError } from '@kvkit/tensor-core';

/**
 * The two 8-bit floating-point formats of the OCP FP8 specification (the ones NVIDIA Hopper,
 * vLLM and FlashInfer use for KV caches):
 *
 * - `e4m3` (PyTorch `float8_e4m3fn`): 1 sign, 4 exponent bits (bias 7), 3 mantissa bits, no
 *   infinities; S.1111.111 is NaN, so the largest finite value is 1.75·2⁸ = 448.
 * - `e5m2` (`float8_e5m2`): 1 sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like:
 *   exponent 11111 is ±∞ (mantissa 0) or NaN; the largest finite value is 1.75·2¹⁵ = 57344.
 *
 * Both have subnormals (exponent 0: mantissa · 2^(1 − bias − mantissaBits)).
 */
export type Fp8Format = 'e4m3' | 'e5m2';
export const FP8_FORMATS: readonly Fp8Format[] = ['e4m3', 'e5m2'];

interface Fp8Table {
  /** Value of each of the 256 codes. */
  decode: Float64Array;
  /** The non-negative finite values in increasing order and their codes. */
  magnitudes: Float64Array;
  codes: Uint8Array;
  max: number;
  nan: number;
  /** Code of +∞, or -1 when the format has none. */
  inf: number;
}

const tables = new Map<Fp8Format, Fp8Table>();

function decodeCode(code: number, exponentBits: number, mantissaBits: number, ieeeSpecials: boolean): number {
  const bias = (1 << (exponentBits - 1)) - 1;
  const sign = code & 0x80 ? -1 : 1;
  const exponent = (code >> mantissaBits) & ((1 << exponentBits) - 1);
  const mantissa = code & ((1 << mantissaBits) - 1);
  const allOnes = (1 << exponentBits) - 1;
  if (ieeeSpecials && exponent === allOnes) return mantissa === 0 ? sign * Infinity : NaN;
  if (!ieeeSpecials && exponent === allOnes && mantissa === (1 << mantissaBits) - 1) return NaN;
  if (exponent === 0) return sign * mantissa * 2 ** (1 - bias - mantissaBits);
  return sign * (1 + mantissa / (1 << mantissaBits)) * 2 ** (exponent - bias);
}

export function fp8Table(format: Fp8Format): Fp8Table {
  let table = tables.get(format);
  if (table) return table;
  if (!FP8_FORMATS.includes(format)) throw new InvalidConfigError(`fp8: format must be one of ${FP8_FORMATS.join(', ')}, got ${format}`);
  const [e, m, ieee] = format === 'e4m3' ? [4, 3, false] : [5, 2, true];
  const decode = new Float64Array(256);
  for (let c = 0; c < 256; c++) decode[c] = decodeCode(c, e, m, ieee);
  const finite: number[] = [];
  for (let c = 0; c < 128; c++) if (Number.isFinite(decode[c])) finite.push(c);
  finite.sort((a, b) => decode[a] - decode[b]);
  table = {
    decode,
    magnitudes: Float64Array.from(finite, (c) => decode[c]),
    codes: Uint8Array.from(finite),
    max: decode[finite[finite.length - 1]],
    nan: 0x7f,
    inf: ieee ? 0x7c : -1,
  };
  tables.set(format, table);
  return table;
}

/** The largest finite value of `format`. */
export function fp8Max(format: Fp8Format): number {
  return fp8Table(format).max;
}

export function decodeFp8(code: number, format: Fp8Format): number {
  return fp8Table(format).decode[code & 0xff];
}

/**
 * The code of `x`: round to nearest, ties to the even code; finite values beyond the largest one
 * saturate to it (the "satfinite" conversion scaled KV caches use); ±∞ saturates in e4m3 and stays
 * ∞ in e5m2; NaN gives the NaN code.
 */
export function encodeFp8(x: number, format: Fp8Format): number {
  const t = fp8Table(format);
  if (x !== x) return t.nan;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a === Infinity && t.inf >= 0) return sign | t.inf;
  const mags = t.magnitudes;
  const last = mags.length - 1;
  if (a >= mags[last]) return sign | t.codes[last];
  // First magnitude ≥ a.
  let lo = 0;
  let hi = last;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (mags[mid] < a) lo = mid + 1;
    else hi = mid;
  }
  if (mags[lo] === a || lo === 0) return sign | t.codes[lo];
  const below = mags[lo - 1];
  const above = mags[lo];
  let pick: number;
  if (a - below < above - a) pick = lo - 1;
  else if (a - below > above - a) pick = lo;
  else pick = (t.codes[lo - 1] & 1) === 0 ? lo - 1 : lo;
  return sign | t.codes[pick];
}
