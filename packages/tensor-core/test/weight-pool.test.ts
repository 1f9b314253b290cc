// WeightPool: f32 matrices kept in WebAssembly memory, read in place by the SIMD products. A product
// with a pooled B must equal the same product with a plain copy of B, bit for bit (the same
// kernel and summation order, only without the copy), with SIMD on or off.
import { afterEach, describe, expect, it } from 'vitest';
import { matmul, numberToF16Bits, setSimdKernels, setSimdThreads, simdThreadCount, type Tensor, tensor, tensorFromHost, WeightPool } from '../src/index.js';
import { withSeed } from '../src/testing/index.js';

afterEach(() => {
  setSimdKernels(true);
  setSimdThreads(undefined);
});

describe('WeightPool', () => {
  it('exists here (WebAssembly SIMD available), so the comparisons below test the in-place path', () => {
    expect(WeightPool.create(16)).not.toBeNull();
  });

  it('hands out zeroed, 16-byte aligned arrays until full, then refuses with a RangeError', () => {
    const pool = WeightPool.create(10)!;
    expect(pool.capacity).toBe(12);
    const a = pool.allocate(3);
    const b = pool.allocate(4);
    expect([a.length, b.length, a.byteOffset % 16, b.byteOffset % 16]).toEqual([3, 4, 0, 0]);
    expect(b.byteOffset - a.byteOffset).toBe(16);
    expect(Array.from(b)).toEqual([0, 0, 0, 0]);
    expect(pool.free).toBe(4);
    expect(() => pool.allocate(5)).toThrow(RangeError);
    expect(pool.allocate(4).length).toBe(4);
  });

  it('x·Wᵀ with a pooled W equals the plain product bit for bit: one row (decode), blocks of rows, odd row counts of W', () =>
    withSeed((rng) => {
      const shapes: Array<[number, number, number]> = [[1, 64, 256], [1, 250, 96], [3, 64, 130], [9, 48, 70], [5, 33, 17], [17, 128, 100]];
      const pool = WeightPool.create(shapes.reduce((sum, [, n, k]) => sum + Math.ceil((n * k) / 4) * 4, 0))!;
      for (const [m, n, k] of shapes) {
        const w = Float32Array.from({ length: n * k }, () => rng.normal());
        const x = tensor(Float32Array.from({ length: m * k }, () => rng.normal()), [m, k]);
        const view = pool.allocate(w.length);
        view.set(w);
        const pooled = tensorFromHost(view, [n, k]);
        const plain = tensor(w, [n, k]);
        const product = (b: Tensor) => matmul(x, b, { transposeB: true }).readSync();
        for (const simd of [true, false]) {
          setSimdKernels(simd);
          expect(Array.from(product(pooled)), `${m}×${n}×${k} simd ${simd}`).toEqual(Array.from(product(plain)));
        }
        setSimdKernels(true);
      }
    }));

  // Products of several rows with enough work split B's rows among the pool's threads (whole 4-row
  // blocks, the last part taking the rest; with less work than the threads, the first threads
  // only): the values must not depend on the split, for float64 and f32 sums, blocks of rows with a
  // single last row. One-row products (decode) split too from 3·2^20 multiply-adds (an f32 B).
  it('splits large products among its threads with the same values as one thread and as a plain B', () =>
    withSeed((rng) => {
      setSimdThreads(3);
      expect(simdThreadCount()).toBe(3); // Node runs this many whatever the cores: the split below is exercised
      const shapes: Array<[number, number, number]> = [[4, 300, 256], [6, 1026, 260], [5, 1024, 257], [9, 130, 70], [1, 1030, 300], [1, 3076, 1024], [5, 3074, 1025]];
      const floats = shapes.reduce((sum, [, n, k]) => sum + WeightPool.floatsFor(n * k) + WeightPool.floatsFor(n * k, true), 0);
      const threaded = WeightPool.create(floats)!;
      setSimdThreads(1);
      const single = WeightPool.create(floats)!;
      expect([threaded.threads, single.threads]).toEqual([3, 1]);
      for (const [m, n, k] of shapes) {
        const w = Float32Array.from({ length: n * k }, () => rng.normal() * 0.1);
        const bits = Uint16Array.from(w, (value) => numberToF16Bits(value));
        const x = tensor(Float32Array.from({ length: m * k }, () => rng.normal()), [m, k]);
        const pooled = (pool: WeightPool, half: boolean) => {
          if (half) {
            const view = pool.allocateHalf(bits.length);
            view.set(bits);
            return tensorFromHost(view, [n, k], { dtype: 'f16' });
          }
          const view = pool.allocate(w.length);
          view.set(w);
          return tensorFromHost(view, [n, k]);
        };
        for (const half of [false, true]) {
          const [many, one] = [pooled(threaded, half), pooled(single, half)];
          const plain = half ? tensor(bits, [n, k], { dtype: 'f16' }) : tensor(w, [n, k]);
          for (const accumulate of ['f64', 'f32'] as const) {
            const product = (b: Tensor) => Array.from(matmul(x, b, { transposeB: true, accumulate }).readSync());
            const label = `${m}×${n}×${k} ${half ? 'f16' : 'f32'} B, ${accumulate} sums`;
            const expected = product(plain);
            expect(product(many), `${label}, ${threaded.threads} threads`).toEqual(expected);
            expect(product(one), `${label}, one thread`).toEqual(expected);
          }
        }
      }
      threaded.release();
      single.release();
    }));
});
