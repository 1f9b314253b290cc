// matmul with one operand in f16 or bf16 beside an f32 other (weights kept in half precision): the
// result is f32 and must equal, bit for bit, the product with the half operand widened to f32
// first (the same kernels and summation order, only without the copy), whether the half operand
// lives in a WeightPool (read in place by the one-row kernel) or not, with SIMD on or off, summed
// in float64 or in f32 lanes; and it must agree with a direct float64 sum of the widened values.
import { afterEach, describe, expect, it } from 'vitest';
import {
  bf16BitsToNumber,
  cast,
  DTypeMismatchError,
  f16BitsToNumber,
  matmul,
  numberToF16Bits,
  type Rng,
  setSimdKernels,
  tensor,
  tensorFromHost,
  WeightPool,
} from '../src/index.js';
import { withSeed } from '../src/testing/index.js';

afterEach(() => setSimdKernels(true));

type Half = 'f16' | 'bf16';

/** Random half-precision bit patterns of normal weights, with (f16) subnormals, signed zeros, infinities and NaNs sprinkled in when `specials`. */
function halfBits(rng: Rng, dtype: Half, length: number, specials: boolean): Uint16Array {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const bits = new Uint16Array(length);
  for (let i = 0; i < length; i++) {
    f32[0] = rng.normal() * 0.05;
    // bf16: f32's top half (truncated); f16: rounded to nearest.
    bits[i] = dtype === 'bf16' ? u32[0] >>> 16 : numberToF16Bits(f32[0]);
    if (!specials) continue;
    const u = rng.uniform();
    if (u < 0.01) bits[i] = dtype === 'f16' ? 0x0001 + Math.floor(rng.uniform() * 0x3fe) : 0x0001 + Math.floor(rng.uniform() * 0x7e); // subnormal
    else if (u < 0.015) bits[i] = 0x8000; // −0
    else if (u < 0.017) bits[i] = dtype === 'f16' ? 0x7c00 : 0x7f80; // +∞
    else if (u < 0.019) bits[i] = dtype === 'f16' ? 0xfc00 : 0xff80; // −∞
    else if (u < 0.021) bits[i] = dtype === 'f16' ? 0x7e01 : 0x7fc1; // NaN
  }
  return bits;
}

function widenedValue(bits: number, dtype: Half): number {
  return dtype === 'f16' ? f16BitsToNumber(bits) : bf16BitsToNumber(bits);
}

/** Σ_p a[i,p]·w[j,p] in float64, one output, and Σ_p |a[i,p]·w[j,p]|. */
function direct(a: Float32Array, i: number, w: Uint16Array, j: number, k: number, dtype: Half): { sum: number; abs: number } {
  let sum = 0;
  let abs = 0;
  for (let p = 0; p < k; p++) {
    const term = a[i * k + p] * widenedValue(w[j * k + p], dtype);
    sum += term;
    abs += Math.abs(term);
  }
  return { sum, abs };
}

function sameValues(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i]) && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) {
      expect(actual[i], `${label}: output ${i}`).toBe(expected[i]);
    }
  }
}

describe('matmul of f32 activations with half-precision weights', () => {
  // [m, n, k]: one row (decode) with k a multiple of 8 or not (a last pair, an odd last half), n not
  // a multiple of 4 or below 4, products too small for the SIMD kernels; blocks of rows (B with an odd
  // number of values, widened in SIMD eight at a time and then one by one).
  const shapes: Array<[number, number, number]> = [[1, 64, 256], [1, 250, 96], [1, 70, 101], [1, 130, 42], [1, 37, 43], [1, 3, 2000], [3, 64, 130], [6, 45, 31], [9, 48, 70], [17, 128, 100]];

  for (const [dtype, accumulate] of [['f16', 'f64'], ['bf16', 'f64'], ['f16', 'f32'], ['bf16', 'f32']] as const) {
    it(`x·Wᵀ with W in ${dtype} equals x·(W widened to f32)ᵀ bit for bit, pooled or not, SIMD on or off, specials included, ${accumulate} sums`, () =>
      withSeed((rng) => {
        const pool = WeightPool.create(2 * shapes.reduce((sum, [, n, k]) => sum + Math.ceil((n * k) / 8) * 4, 0))!;
        for (const [m, n, k] of shapes) {
          for (const specials of [false, true]) {
            const bits = halfBits(rng, dtype, n * k, specials);
            const view = pool.allocateHalf(bits.length);
            view.set(bits);
            const pooled = tensorFromHost(view, [n, k], { dtype });
            const plain = tensor(bits, [n, k], { dtype });
            const xs = Float32Array.from({ length: m * k }, () => rng.normal());
            const x = tensor(xs, [m, k]);
            const widened = cast(plain, 'f32');
            for (const simd of [true, false]) {
              setSimdKernels(simd);
              const label = `${dtype} ${m}×${n}×${k} specials ${specials} simd ${simd}`;
              // The half products first: scratch the widened product leaves behind must not stand in for them.
              const products = [pooled, plain].map((w) => matmul(x, w, { transposeB: true, accumulate }));
              const transposed = m === 1 ? [pooled, plain].map((w) => matmul(w, x, { transposeB: true, accumulate }).readSync() as Float32Array) : [];
              const expected = matmul(x, widened, { transposeB: true, accumulate }).readSync() as Float32Array;
              for (const [index, product] of products.entries()) {
                expect(product.dtype, label).toBe('f32');
                sameValues(product.readSync() as Float32Array, expected, `${label} ${index === 0 ? 'pooled' : 'plain'}`);
              }
              // W·xᵀ for one x (how a decode step's projection is written) reads W as the one row's B.
              for (const values of transposed) sameValues(values, expected, `${label} W·xᵀ`);
              if (!specials) {
                for (const [i, j] of [[0, 0], [m - 1, n - 1], [m >> 1, n >> 1]]) {
                  const exact = direct(xs, i, bits, j, k, dtype);
                  // float64 sums: one rounding at the end; f32 lanes: a rounding per product and per addition
                  const bound = accumulate === 'f64' ? 1e-6 * Math.max(1, Math.abs(exact.sum)) : (k + 4) * 2 ** -24 * exact.abs;
                  expect(Math.abs(expected[i * n + j] - exact.sum), label).toBeLessThanOrEqual(bound);
                }
              }
            }
            setSimdKernels(true);
          }
        }
      }));
  }

  it('takes the half operand on either side, batched, and without transposition (widened there)', () =>
    withSeed((rng) => {
      const w = tensor(halfBits(rng, 'f16', 2 * 12 * 20, false), [2, 12, 20], { dtype: 'f16' });
      const x = tensor(Float32Array.from({ length: 2 * 5 * 20 }, () => rng.normal()), [2, 5, 20]);
      const wide = cast(w, 'f32');
      sameValues(matmul(x, w, { transposeB: true }).readSync() as Float32Array, matmul(x, wide, { transposeB: true }).readSync() as Float32Array, 'batched x·Wᵀ');
      sameValues(matmul(w, x, { transposeB: true }).readSync() as Float32Array, matmul(wide, x, { transposeB: true }).readSync() as Float32Array, 'batched W·xᵀ');
      const wt = tensor(halfBits(rng, 'bf16', 20 * 12, false), [20, 12], { dtype: 'bf16' });
      sameValues(matmul(x, wt).readSync() as Float32Array, matmul(x, cast(wt, 'f32')).readSync() as Float32Array, 'x·W');
    }));

  it('refuses other dtype pairs with a DTypeMismatchError naming both', () => {
    const f16 = tensor(new Uint16Array(4), [2, 2], { dtype: 'f16' });
    const bf16 = tensor(new Uint16Array(4), [2, 2], { dtype: 'bf16' });
    const f32 = tensor(new Float32Array(4), [2, 2]);
    expect(() => matmul(f16, bf16)).toThrow(DTypeMismatchError);
    expect(() => matmul(f16, bf16)).toThrow(/f16 vs bf16/);
    expect(() => matmul(f32, tensor(new Int32Array(4), [2, 2], { dtype: 'i32' }))).toThrow(/matmul/);
    // f16 with f16 stays f16, as before.
    expect(matmul(f16, f16).dtype).toBe('f16');
  });
});

describe('WeightPool.allocateHalf', () => {
  it('hands out zeroed half-precision room on 16 bytes, two values to a float of the capacity, then refuses', () => {
    const pool = WeightPool.create(12)!;
    const a = pool.allocateHalf(5);
    const b = pool.allocate(3);
    const c = pool.allocateHalf(8);
    expect([a.length, b.length, c.length]).toEqual([5, 3, 8]);
    expect([a.byteOffset % 16, b.byteOffset % 16, c.byteOffset % 16]).toEqual([0, 0, 0]);
    expect([b.byteOffset - a.byteOffset, c.byteOffset - b.byteOffset]).toEqual([16, 16]);
    expect(Array.from(c)).toEqual(new Array(8).fill(0));
    expect(pool.free).toBe(0);
    expect(() => pool.allocateHalf(1)).toThrow(RangeError);
  });
});

