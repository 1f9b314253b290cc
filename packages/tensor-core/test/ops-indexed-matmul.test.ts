// indexedMatmul: row i is x[i]·weights[indices[i]]ᵀ. Each row must equal, bit for bit, matmul of
// that row with its matrix (the same kernels and summation order, whichever rows share a matrix),
// and agree with a direct float64 sum; half-precision stacks beside f32 rows are read in place.
import { afterEach, describe, expect, it } from 'vitest';
import {
  cast,
  DTypeMismatchError,
  IndexOutOfRangeError,
  indexedMatmul,
  matmul,
  numberToF16Bits,
  reshape,
  setSimdKernels,
  setSimdThreads,
  ShapeMismatchError,
  slice,
  tensor,
  type Tensor,
  tensorFromHost,
  UnsupportedDTypeError,
  WeightPool,
} from '../src/index.js';
import { withSeed } from '../src/testing/index.js';

afterEach(() => {
  setSimdKernels(true);
  setSimdThreads(undefined);
});

/** Row i of x times its matrix through matmul: the values indexedMatmul must reproduce. */
function rowByRow(x: Tensor, weights: Tensor, indices: Int32Array, accumulate: 'f64' | 'f32'): Float32Array {
  const [rows, k] = x.shape;
  const [, n] = weights.shape;
  const out = new Float32Array(rows * n);
  for (let i = 0; i < rows; i++) {
    const row = slice(x, [i, 0], [i + 1, k]);
    const matrix = reshape(slice(weights, [indices[i], 0, 0], [indices[i] + 1, n, k]), [n, k]);
    out.set(cast(matmul(row, matrix, { transposeB: true, accumulate }), 'f32').readSync() as Float32Array, i * n);
  }
  return out;
}

function expectSameValues(actual: Float32Array, expected: Float32Array, label: string): void {
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`${label}: entry ${i} is ${actual[i]}, matmul gives ${expected[i]}`);
  }
}

describe('indexedMatmul', () => {
  // Shapes below and above the SIMD kernels' minimum work, rows that share a matrix and matrices no row uses.
  const shapes = [
    [1, 3, 5, 4],
    [6, 4, 24, 40],
    [17, 8, 64, 48],
    [40, 5, 33, 70],
  ] as const;

  for (const simd of [true, false]) {
    for (const accumulate of ['f64', 'f32'] as const) {
      it(`matches matmul row by row and a float64 sum (f32, ${accumulate} sums, SIMD ${simd ? 'on' : 'off'})`, () => {
        setSimdKernels(simd);
        withSeed((rng) => {
          for (const [rows, count, n, k] of shapes) {
            const x = tensor(Float32Array.from({ length: rows * k }, () => rng.normal()), [rows, k]);
            const w = Float32Array.from({ length: count * n * k }, () => rng.normal() * 0.1);
            const weights = tensor(w, [count, n, k]);
            const chosen = Int32Array.from({ length: rows }, () => Math.floor(rng.uniform() * count));
            const actual = indexedMatmul(x, weights, tensor(chosen, [rows], { dtype: 'i32' }), { accumulate }).readSync() as Float32Array;
            expect(actual.length).toBe(rows * n);
            expectSameValues(actual, rowByRow(x, weights, chosen, accumulate), `rows ${rows}, ${count} matrices ${n}×${k}`);
            const xs = x.readSync() as Float32Array;
            for (let i = 0; i < rows; i++) {
              for (let j = 0; j < n; j++) {
                let sum = 0;
                let abs = 0;
                for (let p = 0; p < k; p++) {
                  const term = xs[i * k + p] * w[(chosen[i] * n + j) * k + p];
                  sum += term;
                  abs += Math.abs(term);
                }
                expect(Math.abs(actual[i * n + j] - sum)).toBeLessThanOrEqual(1e-6 * abs + 1e-30);
              }
            }
          }
        });
      });
    }
  }

  for (const dtype of ['f16', 'bf16'] as const) {
    it(`reads a ${dtype} stack beside f32 rows as matmul does (and an all-${dtype} product too)`, () => {
      withSeed((rng) => {
        const [rows, count, n, k] = [9, 4, 32, 40];
        const x = tensor(Float32Array.from({ length: rows * k }, () => rng.normal()), [rows, k]);
        const weights = cast(tensor(Float32Array.from({ length: count * n * k }, () => rng.normal() * 0.1), [count, n, k]), dtype);
        const chosen = Int32Array.from({ length: rows }, () => Math.floor(rng.uniform() * count));
        const indices = tensor(chosen, [rows], { dtype: 'i32' });
        for (const accumulate of ['f64', 'f32'] as const) {
          const mixed = indexedMatmul(x, weights, indices, { accumulate });
          expect(mixed.dtype).toBe('f32');
          expectSameValues(mixed.readSync() as Float32Array, rowByRow(x, weights, chosen, accumulate), `f32 rows, ${dtype} stack, ${accumulate} sums`);
        }
        const halfX = cast(x, dtype);
        const half = indexedMatmul(halfX, weights, indices);
        expect(half.dtype).toBe(dtype);
        const expected = rowByRow(halfX, weights, chosen, 'f64');
        expectSameValues(cast(half, 'f32').readSync() as Float32Array, expected, `all-${dtype}`);
      });
    });
  }

  // A decode step (at most one row per matrix) with the stack in a threaded WeightPool runs its
  // products side by side on the threads (several rounds when they outnumber the threads); each must
  // keep the values of the plain stack's product, for f32 and f16 stacks and both summations, and odd
  // row counts (which that path does not take) too.
  it('keeps the values of a plain stack when a pooled stack runs one-row products side by side on the threads', () =>
    withSeed((rng) => {
      setSimdThreads(3);
      const shapes = [[4, 6, 96, 200], [5, 5, 30, 37], [2, 3, 1026, 64], [3, 4, 29, 40]] as const;
      const pool = WeightPool.create(shapes.reduce((sum, [, count, n, k]) => sum + WeightPool.floatsFor(count * n * k) + WeightPool.floatsFor(count * n * k, true), 0))!;
      expect(pool.threads).toBe(3);
      for (const [rows, count, n, k] of shapes) {
        const w = Float32Array.from({ length: count * n * k }, () => rng.normal() * 0.1);
        const bits = Uint16Array.from(w, (value) => numberToF16Bits(value));
        const x = tensor(Float32Array.from({ length: rows * k }, () => rng.normal()), [rows, k]);
        // Distinct matrices, in a shuffled order.
        const order = Array.from({ length: count }, (_, i) => i).sort(() => rng.uniform() - 0.5);
        const indices = tensor(Int32Array.from(order.slice(0, rows)), [rows], { dtype: 'i32' });
        for (const half of [false, true]) {
          const view = half ? pool.allocateHalf(bits.length) : pool.allocate(w.length);
          view.set(half ? bits : w);
          const pooled = tensorFromHost(view, [count, n, k], half ? { dtype: 'f16' } : {});
          const plain = half ? tensor(bits, [count, n, k], { dtype: 'f16' }) : tensor(w, [count, n, k]);
          for (const accumulate of ['f64', 'f32'] as const) {
            const product = (stack: Tensor) => indexedMatmul(x, stack, indices, { accumulate }).readSync() as Float32Array;
            expectSameValues(product(pooled), product(plain), `${rows} rows, ${count} × ${n}×${k} ${half ? 'f16' : 'f32'}, ${accumulate} sums`);
          }
        }
      }
      pool.release();
    }));

  it('refuses mismatched shapes, out-of-range or non-integer indices and mixed dtypes, with typed errors', () => {
    const x = tensor(new Float32Array(12), [3, 4]);
    const weights = tensor(new Float32Array(2 * 5 * 4), [2, 5, 4]);
    const indices = tensor(new Int32Array([0, 1, 1]), [3], { dtype: 'i32' });
    expect(() => indexedMatmul(x, tensor(new Float32Array(2 * 5 * 3), [2, 5, 3]), indices)).toThrow(ShapeMismatchError);
    expect(() => indexedMatmul(x, weights, tensor(new Int32Array([0, 1]), [2], { dtype: 'i32' }))).toThrow(/3 rows but indices has 2/);
    expect(() => indexedMatmul(x, weights, tensor(new Int32Array([0, 2, 1]), [3], { dtype: 'i32' }))).toThrow(IndexOutOfRangeError);
    expect(() => indexedMatmul(x, weights, tensor(new Float32Array(3), [3]))).toThrow(UnsupportedDTypeError);
    expect(() => indexedMatmul(x, tensor(new Float32Array(10 * 4), [10, 4]), indices)).toThrow(ShapeMismatchError);
    expect(() => indexedMatmul(cast(x, 'f16'), cast(weights, 'bf16'), indices)).toThrow(DTypeMismatchError);
  });
});
