import { describe, expect, it } from 'vitest';
import { cast, layerNorm, matmul, rmsNorm, setSimdKernels, tensor, transpose } from '../src/index.js';
import { assertClose, withSeed } from '../src/testing/index.js';
import { f32Values, naiveMatmul, randomArray } from './reference.js';

describe('matmul', () => {
  it('matches the triple loop for every transpose combination and awkward sizes', () =>
    withSeed((rng) => {
      for (const [m, k, n] of [[1, 1, 1], [1, 64, 33], [5, 7, 3], [37, 19, 70], [4, 128, 4], [130, 3, 65]]) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const a = f32Values(randomArray(rng, m * k));
            const b = f32Values(randomArray(rng, k * n));
            const out = matmul(tensor(a, ta ? [k, m] : [m, k]), tensor(b, tb ? [n, k] : [k, n]), { transposeA: ta, transposeB: tb });
            expect(out.shape).toEqual([m, n]);
            assertClose(out.readSync(), naiveMatmul(a, b, m, k, n, ta, tb), 1e-6, `${m}x${k}x${n} ta=${ta} tb=${tb}`);
          }
        }
      }
    }));

  // The f32 products run in WebAssembly SIMD where available: each output summed in float64 in two
  // lanes (even and odd p, each in order) added at the end, rounded to f32 once — the same values
  // as the JavaScript loops, whatever the shapes (4-row and 2-column blocks, chunks of B's rows).
  it('gives the even/odd float64 sums exactly, with SIMD and without, independent of the number of rows', () =>
    withSeed((rng) => {
      const lanes = (a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number, tb: boolean) => {
        const c = new Float32Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let even = 0;
            let odd = 0;
            for (let p = 0; p < k; p++) {
              const term = a[i * k + p] * (tb ? b[j * k + p] : b[p * n + j]);
              if (p % 2 === 0) even += term;
              else odd += term;
            }
            c[i * n + j] = even + odd;
          }
        return c;
      };
      try {
        for (const [m, k, n] of [[1, 256, 1], [704, 256, 1], [9, 33, 70], [13, 17, 4097], [4, 1, 3], [67, 130, 5], [3, 4100, 3], [2, 257, 64]]) {
          for (const tb of [true, false]) {
            const a = f32Values(randomArray(rng, m * k));
            const b = f32Values(randomArray(rng, k * n));
            const expected = lanes(a, b, m, k, n, tb);
            setSimdKernels(true);
            const simd = matmul(tensor(a, [m, k]), tensor(b, tb ? [n, k] : [k, n]), { transposeB: tb }).readSync();
            // Row 0 alone (the single-row SIMD kernel where the product is large enough): the same values as in the whole product.
            const first = matmul(tensor(Array.from(a).slice(0, k), [1, k]), tensor(b, tb ? [n, k] : [k, n]), { transposeB: tb }).readSync();
            setSimdKernels(false);
            const loops = matmul(tensor(a, [m, k]), tensor(b, tb ? [n, k] : [k, n]), { transposeB: tb }).readSync();
            expect(Array.from(simd), `${m}×${k}×${n} tb=${tb}, SIMD`).toEqual(Array.from(expected));
            expect(Array.from(loops), `${m}×${k}×${n} tb=${tb}, loops`).toEqual(Array.from(expected));
            expect(Array.from(first), `${m}×${k}×${n} tb=${tb}, first row`).toEqual(Array.from(expected.subarray(0, n)));
          }
        }
      } finally {
        setSimdKernels(true);
      }
    }));

  // accumulate: 'f32': each product rounded to f32, summed in four f32 lanes (p mod 4, in order of
  // p; a last k mod 4 terms in the low lanes, 0 in the others), combined as (l0 + l2) + (l1 + l3),
  // written here with Float32Array cells doing each rounding.
  it("gives the four-lane f32 sums exactly with accumulate: 'f32', with SIMD and without, independent of the number of rows", () =>
    withSeed((rng) => {
      const lanes = (a: Float64Array, b: Float64Array, m: number, k: number, n: number, tb: boolean) => {
        const c = new Float32Array(m * n);
        const lane = new Float32Array(4);
        const term = new Float32Array(1);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            lane.fill(0);
            for (let p = 0; p < 4 * Math.ceil(k / 4); p++) {
              term[0] = p < k ? a[i * k + p] * (tb ? b[j * k + p] : b[p * n + j]) : 0;
              lane[p % 4] += term[0];
            }
            const even = Math.fround(lane[0] + lane[2]);
            const odd = Math.fround(lane[1] + lane[3]);
            c[i * n + j] = even + odd;
          }
        return c;
      };
      let differs = false;
      try {
        for (const [m, k, n] of [[1, 256, 1], [704, 256, 1], [9, 33, 70], [13, 17, 4097], [4, 1, 3], [67, 130, 5], [3, 4099, 3], [2, 258, 64], [5, 7, 9]]) {
          for (const tb of [true, false]) {
            const a = f32Values(randomArray(rng, m * k));
            const b = f32Values(randomArray(rng, k * n));
            const expected = lanes(a, b, m, k, n, tb);
            const bt = tensor(b, tb ? [n, k] : [k, n]);
            const product = (rows: Float64Array, count: number) => matmul(tensor(rows, [count, k]), bt, { transposeB: tb, accumulate: 'f32' }).readSync();
            setSimdKernels(true);
            const simd = product(a, m);
            // Row 0 alone (the single-row SIMD kernel where the product is large enough): the same values as in the whole product.
            const first = product(a.subarray(0, k), 1);
            setSimdKernels(false);
            const loops = product(a, m);
            const label = `${m}×${k}×${n} tb=${tb}`;
            expect(Array.from(simd), `${label}, SIMD`).toEqual(Array.from(expected));
            expect(Array.from(loops), `${label}, loops`).toEqual(Array.from(expected));
            expect(Array.from(first), `${label}, first row`).toEqual(Array.from(expected.subarray(0, n)));
            const reference = matmul(tensor(a, [m, k]), bt, { transposeB: tb }).readSync();
            differs ||= reference.some((value, i) => value !== simd[i]);
          }
        }
      } finally {
        setSimdKernels(true);
      }
      // the float64 sums are another order: somewhere over these products they round differently
      expect(differs).toBe(true);
    }));

  it("sums f16 and bf16 products in f32 lanes too, and refuses another accumulate with an InvalidConfigError", () =>
    withSeed((rng) => {
      const a = randomArray(rng, 6 * 9);
      const b = randomArray(rng, 5 * 9);
      for (const dtype of ['f16', 'bf16'] as const) {
        const [ta, tb] = [tensor(a, [6, 9], { dtype }), tensor(b, [5, 9], { dtype })];
        const summed = matmul(ta, tb, { transposeB: true, accumulate: 'f32' });
        expect(summed.dtype).toBe(dtype);
        const widened = matmul(cast(ta, 'f32'), cast(tb, 'f32'), { transposeB: true, accumulate: 'f32' });
        expect(Array.from(summed.readFloat32Sync()), dtype).toEqual(Array.from(cast(widened, dtype).readFloat32Sync()));
      }
      const [x, y] = [tensor(a, [6, 9]), tensor(b, [9, 5])];
      expect(() => matmul(x, y, { accumulate: 'f16' as 'f32' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(/accumulate must be 'f64' or 'f32', got f16/) }));
    }));

  it('broadcasts batch dimensions', () =>
    withSeed((rng) => {
      const a = f32Values(randomArray(rng, 2 * 3 * 4 * 5));
      const b = f32Values(randomArray(rng, 3 * 5 * 6));
      const out = matmul(tensor(a, [2, 3, 4, 5]), tensor(b, [3, 5, 6]));
      expect(out.shape).toEqual([2, 3, 4, 6]);
      const expected: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++) expected.push(...naiveMatmul(a.subarray((i * 3 + j) * 20, (i * 3 + j + 1) * 20), b.subarray(j * 30, (j + 1) * 30), 4, 5, 6));
      assertClose(out.readSync(), expected, 1e-6);
    }));

  it('works on f16/bf16 operands and non-contiguous views', () =>
    withSeed((rng) => {
      const a = randomArray(rng, 12 * 8);
      const b = randomArray(rng, 8 * 9);
      for (const dtype of ['f16', 'bf16'] as const) {
        const ta = tensor(a, [12, 8], { dtype });
        const tb = tensor(b, [8, 9], { dtype });
        const ref = naiveMatmul(ta.readFloat32Sync(), tb.readFloat32Sync(), 12, 8, 9);
        assertClose(matmul(ta, tb).readFloat32Sync(), ref, dtype === 'f16' ? 2e-3 : 1e-2, dtype);
      }
      const at = transpose(tensor(f32Values(a), [8, 12])); // a view, [12, 8]
      const direct = naiveMatmul(transpose(tensor(f32Values(a), [8, 12])).readSync(), f32Values(b), 12, 8, 9);
      assertClose(matmul(at, tensor(f32Values(b), [8, 9])).readSync(), direct, 1e-6, 'view');
    }));

  it('rejects mismatched inner dimensions, integer and mixed dtypes', () => {
    expect(() => matmul(tensor(new Float32Array(6), [2, 3]), tensor(new Float32Array(8), [4, 2]))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => matmul(tensor([1, 2], [1, 2], { dtype: 'i32' }), tensor([1, 2], [2, 1], { dtype: 'i32' }))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    // f32 beside f16 or bf16 is a product of half-precision weights (matmul-half-weights.test.ts); other pairs are refused.
    expect(() => matmul(tensor([1, 2], [1, 2], { dtype: 'bf16' }), tensor([1, 2], [2, 1], { dtype: 'f16' }))).toThrow(expect.objectContaining({ code: 'DTYPE_MISMATCH' }));
    expect(() => matmul(tensor([1, 2], [2]), tensor([1, 2], [2, 1]))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
  });
});

describe('norms', () => {
  it('rmsNorm and layerNorm match their float64 definitions', () =>
    withSeed((rng) => {
      const rows = 6;
      const d = 37;
      const x = f32Values(randomArray(rng, rows * d, 3));
      const w = f32Values(randomArray(rng, d));
      const b = f32Values(randomArray(rng, d));
      const rms: number[] = [];
      const ln: number[] = [];
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * d, (r + 1) * d));
        const ms = row.reduce((s, v) => s + v * v, 0) / d;
        const mu = row.reduce((s, v) => s + v, 0) / d;
        const variance = row.reduce((s, v) => s + (v - mu) ** 2, 0) / d;
        row.forEach((v, i) => {
          rms.push((v / Math.sqrt(ms + 1e-6)) * w[i]);
          ln.push(((v - mu) / Math.sqrt(variance + 1e-5)) * w[i] + b[i]);
        });
      }
      assertClose(rmsNorm(tensor(x, [2, 3, d]), tensor(w, [d]), 1e-6).readSync(), rms, 1e-6, 'rmsNorm');
      assertClose(layerNorm(tensor(x, [rows, d]), tensor(w, [d]), tensor(b, [d]), 1e-5).readSync(), ln, 1e-6, 'layerNorm');
    }));

  it('rejects a weight that does not match the last axis', () => {
    expect(() => rmsNorm(tensor(new Float32Array(6), [2, 3]), tensor([1, 1], [2]))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => rmsNorm(tensor(new Float32Array(6), [2, 3]), tensor([1, 1, 1], [3]), -1)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
