/**
 * Exact conversions between IEEE binary16 (f16), bfloat16 (bf16) and JavaScript numbers / f32.
 * Rounding is to nearest, ties to even, with subnormals, infinities and NaN preserved.
 *
 * Converting a JS number (float64) goes through Math.fround first; when that lands exactly on a
 * half-way point of the 16-bit grid, the sign of the discarded part decides, so there is no
 * double-rounding error.
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/**
 * f32 bit pattern → f16 bit pattern. `tie` tells which side of the f32 value the true value lies
 * (+1 larger magnitude, -1 smaller, 0 exactly it); it only matters on an exact f16 half-way point.
 */
function f32BitsToF16Bits(bits: number, tie: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 112; // f16 biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    const halfway = 1 << (shift - 1);
    const rem = full & ((1 << shift) - 1);
    let m = full >>> shift;
    if (rem > halfway || (rem === halfway && (tie > 0 || (tie === 0 && (m & 1) === 1)))) m += 1;
    return sign | m;
  }
  let out = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (tie > 0 || (tie === 0 && (out & 1) === 1)))) out += 1;
  return sign | out;
}

/** Which side of its f32 rounding `x` lies on, in magnitude: +1 above, -1 below, 0 exact. */
function roundingSide(x: number, rounded: number): number {
  if (x === rounded || Number.isNaN(x)) return 0;
  return Math.abs(x) > Math.abs(rounded) ? 1 : -1;
}

/** A JS number → f16 bits (round to nearest even). */
export function numberToF16Bits(x: number): number {
  const r = Math.fround(x);
  scratchF32[0] = r;
  return f32BitsToF16Bits(scratchU32[0], roundingSide(x, r));
}

/** f16 bits → the exact number it encodes. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** A JS number → bf16 bits (round to nearest even; NaN stays a quiet NaN). */
export function numberToBf16Bits(x: number): number {
  const r = Math.fround(x);
  scratchF32[0] = r;
  const bits = scratchU32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return (bits >>> 16) | 0x40;
  const rem = bits & 0xffff;
  let out = bits >>> 16;
  const tie = roundingSide(x, r);
  if (rem > 0x8000 || (rem === 0x8000 && (tie > 0 || (tie === 0 && (out & 1) === 1)))) out += 1;
  return out & 0xffff;
}

/** bf16 bits → the exact number it encodes. */
export function bf16BitsToNumber(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0];
}

/** Bulk f32 → f16 bits. */
export function f32ArrayToF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) dst[i] = f32BitsToF16Bits(bits[i], 0);
  return dst;
}

/** Bulk f16 bits → f32 (every f16 value is exactly representable in f32). */
export function f16ArrayToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = f16Table();
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]];
  return dst;
}

/** Bulk f32 → bf16 bits. */
export function f32ArrayToBf16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i];
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) {
      dst[i] = (b >>> 16) | 0x40;
      continue;
    }
    dst[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return dst;
}

/** Bulk bf16 bits → f32. */
export function bf16ArrayToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return dst;
}

let decodeTable: Float32Array | undefined;
/** All 65,536 f16 values decoded once: a lookup is faster than bit twiddling on every read. */
function f16Table(): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = f16BitsToNumber(h);
  }
  return decodeTable;
}
