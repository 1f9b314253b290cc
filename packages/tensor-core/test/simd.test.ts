// tensor-core's WebAssembly SIMD kernels (src/simd): matmulMatrix's SIMD path against the direct
// float64 formula (summed in the same order, so equal to the last bit) and the arena's contract.
import { afterEach, describe, expect, it } from 'vitest';
import { type Matrix, matmulMatrix } from '../src/linalg/index.js';
import { addressOf, SimdArena, setSimdKernels } from '../src/simd/index.js';
import { withSeed } from '../src/testing/index.js';
import type { Rng } from '../src/rng.js';
import { naiveMatmul, randomArray } from './reference.js';

afterEach(() => setSimdKernels(true));

function random(rng: Rng, rows: number, cols: number): Matrix {
  return { rows, cols, data: randomArray(rng, rows * cols) };
}

describe('SIMD matmulMatrix', () => {
  it('equals the float64 formula summed in the same order, bit for bit, for every transpose and ragged edge', () =>
    withSeed((rng) => {
      for (const [m, k, n] of [[33, 40, 35], [5, 400, 3], [1, 2000, 17], [64, 64, 64], [7, 33, 130], [130, 1, 300]]) {
        for (const transposeA of [false, true]) {
          for (const transposeB of [false, true]) {
            const a = transposeA ? random(rng, k, m) : random(rng, m, k);
            const b = transposeB ? random(rng, n, k) : random(rng, k, n);
            const expected = naiveMatmul(a.data, b.data, m, k, n, transposeA, transposeB);
            const simd = matmulMatrix(a, b, { transposeA, transposeB });
            setSimdKernels(false);
            const plain = matmulMatrix(a, b, { transposeA, transposeB });
            setSimdKernels(true);
            const label = `${m}×${k}×${n} tA=${transposeA} tB=${transposeB}`;
            expect(Array.from(simd.data), label).toEqual(Array.from(expected));
            expect(Array.from(plain.data), label).toEqual(Array.from(expected));
            expect([simd.rows, simd.cols]).toEqual([m, n]);
          }
        }
      }
    }));

  it('keeps IEEE products of infinities and zeros (no zero-skipping)', () => {
    const m = 40;
    const a: Matrix = { rows: m, cols: m, data: new Float64Array(m * m) };
    const b: Matrix = { rows: m, cols: m, data: new Float64Array(m * m).fill(1) };
    b.data[3] = Infinity;
    const c = matmulMatrix(a, b);
    expect(Number.isNaN(c.data[3])).toBe(true); // 0·∞
    expect(c.data[4]).toBe(0);
  });
});

describe('rowBlockNormalProduct', () => {
  it('gives out = Aᵀ(A·b) in one pass: equal to rowBlockDots then rowBlockTransposedAxpy bit for bit, and to the float64 formula', () =>
    withSeed((rng) => {
      for (const [blocks, m] of [[1, 1], [3, 7], [25, 64], [10, 501]]) {
        const rows = 4 * blocks;
        const arena = SimdArena.create([rows * m, m, rows, m, rows, m]) as SimdArena;
        const [a, b, fusedRows, fusedOut, plainRows, plainOut] = arena.arrays;
        a.set(randomArray(rng, rows * m));
        b.set(randomArray(rng, m));
        fusedRows.fill(Number.NaN); // overwritten, not accumulated into
        arena.kernels.rowBlockNormalProduct(addressOf(a), blocks, m, addressOf(b), addressOf(fusedRows), addressOf(fusedOut));
        for (let i0 = 0; i0 < rows; i0 += 4) arena.kernels.rowBlockDots(addressOf(a, i0 * m), m, addressOf(b), addressOf(plainRows, i0));
        for (let i0 = 0; i0 < rows; i0 += 4) {
          const c = plainRows.subarray(i0, i0 + 4);
          arena.kernels.rowBlockTransposedAxpy(addressOf(a, i0 * m), m, c[0], c[1], c[2], c[3], addressOf(plainOut));
        }
        const label = `${rows}×${m}`;
        expect(Array.from(fusedRows), label).toEqual(Array.from(plainRows));
        expect(Array.from(fusedOut), label).toEqual(Array.from(plainOut));
        for (let j = 0; j < m; j++) {
          let expected = 0;
          let magnitude = 0;
          for (let i = 0; i < rows; i++) {
            let dot = 0;
            let dotMagnitude = 0;
            for (let t = 0; t < m; t++) {
              dot += a[i * m + t] * b[t];
              dotMagnitude += Math.abs(a[i * m + t] * b[t]);
            }
            expected += a[i * m + j] * dot;
            magnitude += Math.abs(a[i * m + j]) * dotMagnitude;
          }
          expect(Math.abs(fusedOut[j] - expected), `${label} column ${j}`).toBeLessThanOrEqual(4 * (m + rows) * Number.EPSILON * magnitude);
        }
      }
    }));
});

describe('SimdArena', () => {
  it('hands out zeroed, 16-byte-aligned arrays in one memory, and null when SIMD is turned off', () => {
    const arena = SimdArena.create([3, 5, 1]) as SimdArena;
    expect(arena.arrays.map((x) => x.length)).toEqual([3, 5, 1]);
    for (const array of arena.arrays) {
      expect(addressOf(array) % 16).toBe(0);
      expect(Array.from(array).every((v) => v === 0)).toBe(true);
    }
    expect(new Set(arena.arrays.map((x) => x.buffer)).size).toBe(1);
    expect(addressOf(arena.arrays[1], 2)).toBe(arena.arrays[1].byteOffset + 16);
    setSimdKernels(false);
    expect(SimdArena.create([3])).toBeNull();
  });

  it('refuses an extra module that does not validate (returns null, so callers run their JavaScript loops)', () => {
    expect(SimdArena.create([4], new Uint8Array([0, 1, 2, 3]))).toBeNull();
  });
});
