// tensor-core's WebAssembly SIMD kernels (src/simd): matmulMatrix's SIMD path against the direct
// float64 formula (summed in the same order, so equal to the last bit) and the arena's contract.
// The plain module's property: products with fused multiply-adds (engines with relaxed SIMD) are
// checked in fused-multiply-add.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Matrix, matmulMatrix } from '../src/linalg/index.js';
import { dotProduct } from '../src/linalg/matrix-ops.js';
import { symmetricUpperProduct } from '../src/linalg/tridiagonalize.js';
import { addressOf, SimdArena, setFusedMultiplyAdd, setSimdKernels } from '../src/simd/index.js';
import { withSeed } from '../src/testing/index.js';
import type { Rng } from '../src/rng.js';
import { expectIdentical, naiveMatmul, randomArray } from './reference.js';

beforeAll(() => setFusedMultiplyAdd(false));
afterAll(() => setFusedMultiplyAdd(true));
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

  it('gives the same values when B passes in several panels and C in several chunks of rows', () =>
    withSeed((rng) => {
      // 70 columns make a panel of B 468 rows deep; 2000 make it 16 rows deep and a chunk of C 264 rows tall.
      for (const [m, k, n] of [[6, 1500, 70], [270, 20, 2000]]) {
        for (const transposeA of [false, true]) {
          const a = transposeA ? random(rng, k, m) : random(rng, m, k);
          const b = random(rng, k, n);
          const simd = matmulMatrix(a, b, { transposeA });
          const label = `${m}×${k}×${n} tA=${transposeA}`;
          expectIdentical(simd.data, naiveMatmul(a.data, b.data, m, k, n, transposeA, false), label);
        }
      }
    }));

  it('gives the same values when a large product passes several panels per call (one hand-off to the threads), in one pass or several', () =>
    withSeed((rng) => {
      // Past 2²⁴ multiply-adds: 128×2000×70 takes its five 468-row panels in one pass, 48×12000×40 its
      // fifteen 819-row panels in passes of fourteen; AᵀA of a 26000×40 A (its panels are A's own rows)
      // its 32 panels in passes of 31.
      for (const [m, k, n] of [[128, 2000, 70], [48, 12000, 40]]) {
        for (const transposeA of [false, true]) {
          const a = transposeA ? random(rng, k, m) : random(rng, m, k);
          const b = random(rng, k, n);
          expectIdentical(matmulMatrix(a, b, { transposeA }).data, naiveMatmul(a.data, b.data, m, k, n, transposeA, false), `${m}×${k}×${n} tA=${transposeA}`);
        }
      }
      const tall = random(rng, 26000, 40);
      expectIdentical(matmulMatrix(tall, tall, { transposeA: true }).data, naiveMatmul(tall.data, tall.data, 40, 26000, 40, true, false), 'AᵀA 26000×40');
    }));

  it('computes AᵀA and AAᵀ from their upper triangle: symmetric, and equal to the formula bit for bit', () =>
    withSeed((rng) => {
      // A tall A for AᵀA and a wide one for AAᵀ: small products with B in several panels (1200 rows of 37).
      for (const [tall, short] of [[1200, 37], [70, 70], [700, 5]]) {
        for (const [transposeA, transposeB] of [[true, false], [false, true]]) {
          const [rows, cols] = transposeA ? [tall, short] : [short, tall];
          const a = random(rng, rows, cols);
          const m = transposeA ? cols : rows;
          const inner = transposeA ? rows : cols;
          const product = matmulMatrix(a, a, { transposeA, transposeB });
          const copy = { ...a, data: a.data.slice() }; // a different object: the general path
          const label = `${rows}×${cols} tA=${transposeA}`;
          expectIdentical(product.data, naiveMatmul(a.data, a.data, m, inner, m, transposeA, transposeB), label);
          expectIdentical(product.data, matmulMatrix(a, copy, { transposeA, transposeB }).data, label);
        }
      }
    }));

  it('accumulates into a given matrix: C + op(A)·op(B) summed on from C, in place, with and without SIMD', () =>
    withSeed((rng) => {
      // 2000 columns: panels of B 16 rows deep, so the sum continues across three panels.
      for (const [m, k, n] of [[3, 5, 4], [33, 700, 40], [10, 40, 2000]]) {
        for (const transposeA of [false, true]) {
          const a = transposeA ? random(rng, k, m) : random(rng, m, k);
          const b = random(rng, k, n);
          const start = random(rng, m, n);
          // The formula: each entry's sum starts at C's value and adds the k products in order.
          const expected = new Float64Array(m * n);
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let sum = start.data[i * n + j];
              for (let p = 0; p < k; p++) sum += (transposeA ? a.data[p * m + i] : a.data[i * k + p]) * b.data[p * n + j];
              expected[i * n + j] = sum;
            }
          for (const simdOn of [true, false]) {
            setSimdKernels(simdOn);
            const c = { ...start, data: start.data.slice() };
            const result = matmulMatrix(a, b, { transposeA, accumulate: c });
            setSimdKernels(true);
            expect(result.data).toBe(c.data);
            expectIdentical(c.data, expected, `${m}×${k}×${n} tA=${transposeA} simd=${simdOn}`);
          }
        }
      }
      // A symmetric product summed over row tiles equals the product of the whole.
      const tall = random(rng, 900, 41);
      const sum = { rows: 41, cols: 41, data: new Float64Array(41 * 41) };
      for (let r0 = 0; r0 < 900; r0 += 300) {
        const tile = { rows: 300, cols: 41, data: tall.data.subarray(r0 * 41, (r0 + 300) * 41) };
        matmulMatrix(tile, tile, { transposeA: true, accumulate: sum });
      }
      expectIdentical(sum.data, naiveMatmul(tall.data, tall.data, 41, 900, 41, true, false), 'AᵀA summed over tiles');
    }));

  it('refuses an accumulator of the wrong shape or sharing memory with A or B, leaving it untouched', () => {
    const a: Matrix = { rows: 4, cols: 3, data: new Float64Array(12).fill(1) };
    const wrong: Matrix = { rows: 3, cols: 4, data: new Float64Array(12).fill(7) };
    expect(() => matmulMatrix(a, a, { transposeB: true, accumulate: wrong })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(Array.from(wrong.data)).toEqual(new Array(12).fill(7));
    const square: Matrix = { rows: 3, cols: 3, data: new Float64Array(9).fill(2) };
    expect(() => matmulMatrix(square, square, { accumulate: square })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    const shared = new Float64Array(18);
    const view: Matrix = { rows: 3, cols: 3, data: shared.subarray(4, 13) };
    expect(() => matmulMatrix({ rows: 3, cols: 3, data: shared.subarray(0, 9) }, square, { accumulate: view })).toThrow(/shares memory/);
    expect(Array.from(square.data)).toEqual(new Array(9).fill(2));
  });

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

  it('gives Aᵀ(A·B) for k columns in one pass: rowBlockProducts then rowBlockTransposedAxpy per column, bit for bit, and the float64 formula', () =>
    withSeed((rng) => {
      for (const [blocks, m, k] of [[1, 1, 1], [3, 7, 3], [25, 64, 10], [10, 501, 16]]) {
        const rows = 4 * blocks;
        const arena = SimdArena.create([rows * m, m * k, rows * k, k * m, rows * k, k * m]) as SimdArena;
        const [a, b, passRows, passOut, plainRows, plainOut] = arena.arrays;
        a.set(randomArray(rng, rows * m));
        b.set(randomArray(rng, m * k));
        passRows.fill(Number.NaN); // overwritten, not accumulated into
        arena.kernels.rowBlockNormalColumns(addressOf(a), blocks, m, addressOf(b), k, addressOf(passRows), addressOf(passOut));
        const at = (r: number) => addressOf(plainRows, r * k);
        for (let i0 = 0; i0 < rows; i0 += 4) {
          arena.kernels.rowBlockProducts(addressOf(a, i0 * m), m, addressOf(b), k, 0, k, at(i0), at(i0 + 1), at(i0 + 2), at(i0 + 3));
          for (let l = 0; l < k; l++) {
            const c = (r: number) => plainRows[(i0 + r) * k + l];
            arena.kernels.rowBlockTransposedAxpy(addressOf(a, i0 * m), m, c(0), c(1), c(2), c(3), addressOf(plainOut, l * m));
          }
        }
        const label = `${rows}×${m}, k = ${k}`;
        expectIdentical(passRows, plainRows, `${label} rows`);
        expectIdentical(passOut, plainOut, `${label} columns`);
        const ab = naiveMatmul(a, b, rows, m, k, false, false);
        const expected = naiveMatmul(a, ab, m, rows, k, true, false);
        for (let j = 0; j < m; j++)
          for (let l = 0; l < k; l++) {
            let magnitude = 0;
            for (let i = 0; i < rows; i++) {
              let dotMagnitude = 0;
              for (let t = 0; t < m; t++) dotMagnitude += Math.abs(a[i * m + t] * b[t * k + l]);
              magnitude += Math.abs(a[i * m + j]) * dotMagnitude;
            }
            expect(Math.abs(passOut[l * m + j] - expected[j * k + l]), `${label} (${j}, ${l})`).toBeLessThanOrEqual(4 * (m + rows) * Number.EPSILON * magnitude);
          }
      }
    }));
});

describe('symmetricUpperMatvec', () => {
  it('gives w = S·v from the upper triangle: equal to the JavaScript loop bit for bit, and to the float64 formula', () =>
    withSeed((rng) => {
      // Lengths around the four-row blocks and the column pairs (every remainder mod 4, odd and even).
      for (const length of [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 37, 64, 130]) {
        const ld = length + 3; // a trailing block inside a wider matrix
        const arena = SimdArena.create([ld * ld, length, length]) as SimdArena;
        const [matrix, v, simd] = arena.arrays;
        matrix.set(randomArray(rng, ld * ld));
        v.set(randomArray(rng, length));
        const at = 2 * ld + 3;
        arena.kernels.symmetricUpperMatvec(addressOf(matrix, at), ld, length, addressOf(v), addressOf(simd));
        const plain = new Float64Array(length);
        symmetricUpperProduct(matrix, at, ld, length, v, plain);
        expect(Array.from(simd), `length ${length}`).toEqual(Array.from(plain));
        for (let i = 0; i < length; i++) {
          let expected = 0;
          let magnitude = 0;
          for (let j = 0; j < length; j++) {
            const s = matrix[at + Math.min(i, j) * ld + Math.max(i, j)]; // the upper triangle's entry
            expected += s * v[j];
            magnitude += Math.abs(s * v[j]);
          }
          expect(Math.abs(simd[i] - expected), `length ${length} row ${i}`).toBeLessThanOrEqual(2 * length * Number.EPSILON * magnitude);
        }
        arena.release();
      }
    }));
});

describe('rowsDots', () => {
  it('gives out[t] = scale·(a_t·x) over strided rows: dotProduct scaled, bit for bit', () =>
    withSeed((rng) => {
      for (const [height, width] of [[1, 1], [3, 3], [5, 4], [7, 9], [32, 130], [2, 501]]) {
        const ld = width + 5;
        const arena = SimdArena.create([height * ld, width, height]) as SimdArena;
        const [rows, x, out] = arena.arrays;
        rows.set(randomArray(rng, height * ld));
        x.set(randomArray(rng, width));
        for (const scale of [-1, 0.5]) {
          out.fill(Number.NaN); // overwritten, not accumulated into
          arena.kernels.rowsDots(addressOf(rows, 2), ld, height, width, addressOf(x), scale, addressOf(out));
          const expected = Array.from({ length: height }, (_, t) => scale * dotProduct(rows, t * ld + 2, x, 0, width));
          expect(Array.from(out), `${height}×${width} scale ${scale}`).toEqual(expected);
        }
        arena.release();
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
