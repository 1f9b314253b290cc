import { describe, expect, it } from 'vitest';
import { argmax, argmin, logSoftmax, max, mean, min, softmax, sum, tensor, topk, transpose } from '../src/index.js';
import { assertClose, withSeed } from '../src/testing/index.js';
import { f32Values, randomArray } from './reference.js';

/** Reference reduction over `axes` of a row-major [a, b, c] array. */
function reduce3(values: ArrayLike<number>, shape: number[], axes: number[], f: (xs: number[]) => number): number[] {
  const [A, B, C] = shape;
  const keep = [0, 1, 2].filter((a) => !axes.includes(a));
  const groups = new Map<string, number[]>();
  for (let i = 0; i < A; i++)
    for (let j = 0; j < B; j++)
      for (let k = 0; k < C; k++) {
        const key = keep.map((a) => [i, j, k][a]).join(',');
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key)!.push(values[(i * B + j) * C + k]);
      }
  return [...groups.values()].map(f);
}

describe('reductions', () => {
  const ops = {
    sum: [sum, (xs: number[]) => xs.reduce((a, b) => a + b, 0)],
    mean: [mean, (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length],
    max: [max, (xs: number[]) => Math.max(...xs)],
    min: [min, (xs: number[]) => Math.min(...xs)],
  } as const;
  for (const [name, [op, ref]] of Object.entries(ops)) {
    it(`${name} over every axis subset matches the direct formula`, () =>
      withSeed((rng) => {
        const shape = [3, 4, 5];
        const values = f32Values(randomArray(rng, 60));
        const x = tensor(values, shape);
        for (const axes of [[0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]]) {
          const out = op(x, { axes });
          assertClose(out.readSync(), reduce3(values, shape, axes, ref), 1e-6, `${name} axes ${axes}`);
          expect(out.shape).toEqual(shape.filter((_, i) => !axes.includes(i)));
          expect(op(x, { axes, keepDims: true }).shape).toEqual(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
        }
        expect(op(x, { axes: -1 }).shape).toEqual([3, 4]);
      }));
  }

  it('sums in float64 (no catastrophic f32 accumulation error)', () => {
    const values = new Float32Array(100001).fill(0.1);
    values[0] = 1e8;
    const s = sum(tensor(values, [values.length])).readSync()[0];
    expect(s).toBe(Math.fround(1e8 + 100000 * Math.fround(0.1)));
  });

  it('max/min propagate NaN; empty axes', () => {
    expect(Number.isNaN(max(tensor([1, NaN, 3], [3])).readSync()[0])).toBe(true);
    expect(Number.isNaN(min(tensor([1, NaN, 3], [3])).readSync()[0])).toBe(true);
    expect(sum(tensor([], [0])).readSync()[0]).toBe(0);
    expect(Number.isNaN(mean(tensor([], [0])).readSync()[0])).toBe(true);
    expect(() => max(tensor([], [0]))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => sum(tensor([1, 2], [2]), { axes: 1 })).toThrow(expect.objectContaining({ code: 'INDEX_OUT_OF_RANGE' }));
  });

  it('reduces non-contiguous views', () => {
    const x = transpose(tensor([1, 2, 3, 4, 5, 6], [2, 3])); // [[1,4],[2,5],[3,6]]
    expect(Array.from(sum(x, { axes: 1 }).readSync())).toEqual([5, 7, 9]);
  });
});

describe('argmax / argmin / topk', () => {
  it('argmax/argmin along any axis, first index on ties, NaN wins', () => {
    const x = tensor([1, 5, 5, 2, 0, 7, 7, -1], [2, 4]);
    expect(Array.from(argmax(x).readSync())).toEqual([1, 1]);
    expect(Array.from(argmin(x).readSync())).toEqual([0, 3]);
    expect(Array.from(argmax(x, 0).readSync())).toEqual([0, 1, 1, 0]);
    expect(argmax(x, 0, true).shape).toEqual([1, 4]);
    expect(argmax(x).dtype).toBe('i32');
    expect(Array.from(argmax(tensor([1, NaN, 3], [3])).readSync())).toEqual([1]);
  });

  it('topk returns sorted values and indices like a full sort', () =>
    withSeed((rng) => {
      const rows = 7;
      const n = 33;
      const values = f32Values(randomArray(rng, rows * n));
      for (const largest of [true, false]) {
        const { values: v, indices: idx } = topk(tensor(values, [rows, n]), 5, { largest });
        for (let r = 0; r < rows; r++) {
          const row = Array.from(values.slice(r * n, (r + 1) * n), (x, i) => [x, i] as const);
          row.sort((a, b) => (largest ? b[0] - a[0] : a[0] - b[0]) || a[1] - b[1]);
          expect(Array.from(idx.readSync().slice(r * 5, r * 5 + 5))).toEqual(row.slice(0, 5).map((p) => p[1]));
          expect(Array.from(v.readSync().slice(r * 5, r * 5 + 5))).toEqual(row.slice(0, 5).map((p) => p[0]));
        }
      }
    }));

  it('topk orders ties by index and NaN above +Infinity', () => {
    const { indices } = topk(tensor([3, Infinity, NaN, 3], [4]), 4);
    expect(Array.from(indices.readSync())).toEqual([2, 1, 0, 3]);
    const smallest = topk(tensor([3, Infinity, NaN, 3], [4]), 4, { largest: false });
    expect(Array.from(smallest.indices.readSync())).toEqual([0, 3, 1, 2]);
    expect(() => topk(tensor([1, 2], [2]), 3)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});

describe('softmax / logSoftmax', () => {
  it('match the float64 definition along any axis, even with huge logits', () =>
    withSeed((rng) => {
      const shape = [3, 6, 4];
      const values = f32Values(randomArray(rng, 72, 30)).map((x, i) => (i === 5 ? 1e4 : x));
      const x = tensor(values, shape);
      for (const axis of [0, 1, 2]) {
        const expSm: number[] = new Array(72);
        const expLsm: number[] = new Array(72);
        const strides = [24, 4, 1];
        for (let flat = 0; flat < 72; flat++) {
          const idx = [Math.floor(flat / 24), Math.floor(flat / 4) % 6, flat % 4];
          const line = Array.from({ length: shape[axis] }, (_, t) => {
            const j = [...idx];
            j[axis] = t;
            return values[j[0] * strides[0] + j[1] * strides[1] + j[2]];
          });
          const m = Math.max(...line);
          const lse = m + Math.log(line.reduce((a, b) => a + Math.exp(b - m), 0));
          expSm[flat] = Math.exp(values[flat] - lse);
          expLsm[flat] = values[flat] - lse;
        }
        assertClose(softmax(x, axis).readSync(), expSm, 1e-6, `softmax axis ${axis}`);
        assertClose(logSoftmax(x, axis).readSync(), expLsm, 1e-6, `logSoftmax axis ${axis}`);
      }
    }));

  it('gives NaN for a NaN row and handles -inf entries', () => {
    const out = softmax(tensor([NaN, 1, -Infinity, 0], [2, 2])).readSync();
    expect(Number.isNaN(out[0]) && Number.isNaN(out[1])).toBe(true);
    expect(Array.from(out.slice(2))).toEqual([0, 1]);
  });
});
