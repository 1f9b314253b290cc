import { describe, expect, it } from 'vitest';
import {
  bf16ArrayToF32,
  bf16BitsToNumber,
  f16ArrayToF32,
  f16BitsToNumber,
  f32ArrayToBf16,
  f32ArrayToF16,
  numberToBf16Bits,
  numberToF16Bits,
} from '../src/float16.js';
import { SimdArena, stageFloat32 } from '../src/simd/index.js';
import { withSeed } from '../src/testing/index.js';

/** IEEE binary16 decoded straight from its definition, independent of the code under test. */
function decodeF16(h: number): number {
  const sign = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const f = h & 1023;
  if (e === 0) return sign * f * Math.pow(2, -24);
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * Math.pow(2, e - 15) * (1 + f / 1024);
}

/** bfloat16 from its definition: 1 sign, 8 exponent (bias 127), 7 mantissa bits. */
function decodeBf16(b: number): number {
  const sign = b >> 15 ? -1 : 1;
  const e = (b >> 7) & 255;
  const f = b & 127;
  if (e === 0) return sign * f * Math.pow(2, -133);
  if (e === 255) return f ? NaN : sign * Infinity;
  return sign * Math.pow(2, e - 127) * (1 + f / 128);
}

/** Positive finite values of a 16-bit format in increasing order, with their bit patterns. */
function positiveGrid(decode: (b: number) => number, maxFiniteBits: number): { bits: number; value: number }[] {
  const grid: { bits: number; value: number }[] = [];
  for (let b = 0; b <= maxFiniteBits; b++) grid.push({ bits: b, value: decode(b) });
  return grid;
}

function checkFormat(name: string, decode: (b: number) => number, toNumber: (b: number) => number, fromNumber: (x: number) => number, maxFinite: number, infBits: number) {
  describe(name, () => {
    it('decodes all 65,536 bit patterns exactly', () => {
      for (let b = 0; b < 65536; b++) {
        const expected = decode(b);
        const actual = toNumber(b);
        if (Number.isNaN(expected)) expect(Number.isNaN(actual)).toBe(true);
        else expect(Object.is(actual, expected) || actual === expected).toBe(true);
      }
    });

    it('round-trips every bit pattern (NaN stays NaN, -0 stays -0)', () => {
      for (let b = 0; b < 65536; b++) {
        const back = fromNumber(toNumber(b));
        if (Number.isNaN(decode(b))) expect(Number.isNaN(decode(back))).toBe(true);
        else expect(back).toBe(b);
      }
    });

    it('rounds half-way points to even and everything else to nearest', () => {
      const grid = positiveGrid(decode, maxFinite);
      for (let i = 0; i + 1 < grid.length; i++) {
        const lo = grid[i];
        const hi = grid[i + 1];
        const mid = (lo.value + hi.value) / 2; // exact in float64
        const even = (lo.bits & 1) === 0 ? lo.bits : hi.bits;
        expect(fromNumber(mid)).toBe(even);
        expect(fromNumber(-mid)).toBe(even | 0x8000);
        const gap = hi.value - lo.value;
        expect(fromNumber(mid - gap * 1e-3)).toBe(lo.bits);
        expect(fromNumber(mid + gap * 1e-3)).toBe(hi.bits);
        // Just off the half-way point by less than an f32 ulp: no double rounding through f32.
        const tiny = mid * 2 ** -40;
        expect(fromNumber(mid - tiny)).toBe(lo.bits);
        expect(fromNumber(mid + tiny)).toBe(hi.bits);
      }
    });

    it('overflows to infinity exactly past the largest finite value', () => {
      const largest = decode(maxFinite);
      const nextUp = decode(maxFinite) + (decode(maxFinite) - decode(maxFinite - 1));
      const half = (largest + nextUp) / 2;
      expect(fromNumber(half * (1 - 1e-9))).toBe(maxFinite);
      expect(fromNumber(half)).toBe(infBits); // ties to even: the "even" neighbour is infinity
      expect(fromNumber(Infinity)).toBe(infBits);
      expect(fromNumber(-Infinity)).toBe(infBits | 0x8000);
      expect(Number.isNaN(toNumber(fromNumber(NaN)))).toBe(true);
    });
  });
}

checkFormat('f16', decodeF16, f16BitsToNumber, numberToF16Bits, 0x7bff, 0x7c00);
checkFormat('bf16', decodeBf16, bf16BitsToNumber, numberToBf16Bits, 0x7f7f, 0x7f80);

describe('bulk conversions', () => {
  it('f32 → f16 / bf16 arrays agree with the scalar conversions on random and special inputs', () =>
    withSeed((rng) => {
      const values = new Float32Array(20000);
      const bits = new Uint32Array(values.buffer);
      for (let i = 0; i < values.length; i++) bits[i] = rng.nextU32(); // every f32 pattern class, NaNs included
      values.set([0, -0, Infinity, -Infinity, NaN, 65504, 65520, 5.960464477539063e-8, 2.9802322387695312e-8], 0);
      const h = f32ArrayToF16(values);
      const b = f32ArrayToBf16(values);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (Number.isNaN(v)) {
          expect(Number.isNaN(decodeF16(h[i]))).toBe(true);
          expect(Number.isNaN(decodeBf16(b[i]))).toBe(true);
        } else {
          expect(h[i]).toBe(numberToF16Bits(v));
          expect(b[i]).toBe(numberToBf16Bits(v));
        }
      }
      const hBack = f16ArrayToF32(h);
      const bBack = bf16ArrayToF32(b);
      for (let i = 0; i < 200; i++) {
        if (!Number.isNaN(hBack[i])) expect(hBack[i]).toBe(decodeF16(h[i]));
        if (!Number.isNaN(bBack[i])) expect(bBack[i]).toBe(decodeBf16(b[i]));
      }
    }));
});

describe('SIMD f16 → f32 staging (the dense module’s f16ToF32)', () => {
  const arena = SimdArena.create([65536 * 2]);

  it('runs here (so the comparisons below test the SIMD conversion)', () => {
    expect(arena).not.toBeNull();
  });

  it('decodes all 65,536 bit patterns exactly, converted in place over their own upper half', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, b) => b);
    const at = arena!.arrays[0].byteOffset;
    stageFloat32(arena!, all, 0, all.length, at);
    const got = new Float32Array(arena!.arrays[0].buffer, at, all.length);
    for (let b = 0; b < 65536; b++) {
      const expected = decodeF16(b);
      if (Number.isNaN(expected)) expect(Number.isNaN(got[b]), `bits ${b}`).toBe(true);
      else expect(Object.is(got[b], expected), `bits ${b}: ${got[b]} ≠ ${expected}`).toBe(true);
    }
  });

  it('converts every short length and offset (the partial last four) and copies f32 rows as they are', () =>
    withSeed((rng) => {
      const at = arena!.arrays[0].byteOffset + 64;
      for (let length = 0; length <= 13; length++) {
        const start = rng.int(5);
        const bits = Uint16Array.from({ length: start + length + 3 }, () => rng.int(65536));
        const after = new Float32Array(arena!.arrays[0].buffer, at + 4 * length, 4).fill(7.5);
        stageFloat32(arena!, bits, start, length, at);
        const got = new Float32Array(arena!.arrays[0].buffer, at, length);
        const expected = f16ArrayToF32(bits.subarray(start, start + length));
        for (let i = 0; i < length; i++) expect(Object.is(got[i], expected[i]) || (Number.isNaN(got[i]) && Number.isNaN(expected[i])), `length ${length} i ${i}`).toBe(true);
        expect(Array.from(after), `nothing written past length ${length}`).toEqual([7.5, 7.5, 7.5, 7.5]);
        const floats = Float32Array.from({ length: start + length }, () => rng.normal());
        stageFloat32(arena!, floats, start, length, at);
        expect(Array.from(new Float32Array(arena!.arrays[0].buffer, at, length))).toEqual(Array.from(floats.subarray(start, start + length)));
      }
    }));
});
