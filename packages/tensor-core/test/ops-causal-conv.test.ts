import { describe, expect, it } from 'vitest';
import { causalConv1d, concat, DTypeMismatchError, reshape, ShapeMismatchError, slice, tensor, transpose, UnsupportedDTypeError } from '../src/index.js';
import { assertClose, withSeed } from '../src/testing/index.js';
import { f32Values, randomArray } from './reference.js';

/** out[t, c] = Σ_j window[t + j, c] · weight[c, j] + bias[c], in float64 straight from the definition. */
function convRef(window: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number> | undefined, rows: number, channels: number, taps: number): Float64Array {
  const n = rows - taps + 1;
  const out = new Float64Array(n * channels);
  for (let t = 0; t < n; t++)
    for (let c = 0; c < channels; c++) {
      let sum = bias ? bias[c] : 0;
      for (let j = 0; j < taps; j++) sum += window[(t + j) * channels + c] * weight[c * taps + j];
      out[t * channels + c] = sum;
    }
  return out;
}

describe('causalConv1d', () => {
  it('matches the float64 definition: one row (decode) or many, 2–5 taps, with and without a bias', () =>
    withSeed((rng) => {
      for (const [n, channels, taps] of [[1, 7, 3], [9, 33, 3], [4, 16, 2], [6, 5, 5], [1, 1, 4]]) {
        const rows = n + taps - 1;
        const window = f32Values(randomArray(rng, rows * channels));
        const weight = f32Values(randomArray(rng, channels * taps));
        const bias = f32Values(randomArray(rng, channels));
        for (const withBias of [false, true]) {
          const out = causalConv1d(tensor(window, [rows, channels]), tensor(weight, [channels, taps]), withBias ? tensor(bias, [channels]) : undefined);
          expect(out.shape).toEqual([n, channels]);
          const label = `n ${n}, ${channels} channels, ${taps} taps, bias ${withBias}`;
          const want = convRef(window, weight, withBias ? bias : undefined, rows, channels, taps);
          // Each output against the size of its terms (Σ|w·x| + |b|): where the sum cancels, f32's rounding of
          // the terms is what is left, relative to them, not to the small result (seed 763191494: one output of
          // −0.018 from terms near 1 was off by 2.4e-6 of itself, a 1e-6 bound on its own size).
          const abs = (values: ArrayLike<number>) => Array.from(values, Math.abs);
          const size = convRef(abs(window), abs(weight), withBias ? abs(bias) : undefined, rows, channels, taps);
          const got = out.readSync();
          for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i]), `${label}, output ${i}`).toBeLessThanOrEqual(1e-6 * size[i]);
        }
      }
    }));

  it('continues a sequence: convolving it in pieces, each window the last taps − 1 rows before it, gives the whole convolution', () =>
    withSeed((rng) => {
      const [length, channels, taps] = [11, 6, 4];
      const sequence = f32Values(randomArray(rng, length * channels));
      const weight = tensor(f32Values(randomArray(rng, channels * taps)), [channels, taps]);
      const padded = concat([tensor(new Float32Array((taps - 1) * channels), [taps - 1, channels]), tensor(sequence, [length, channels])], 0);
      const whole = causalConv1d(padded, weight).readSync();
      const pieces: number[] = [];
      for (const [start, end] of [[0, 3], [3, 4], [4, 11]]) pieces.push(...causalConv1d(slice(padded, [start, 0], [end + taps - 1, channels]), weight).readSync());
      expect(pieces).toEqual(Array.from(whole));
    }));

  it('reads views in place: a sliced window, the depthwise Conv1d weight [channels, 1, taps] reshaped, a transposed weight', () =>
    withSeed((rng) => {
      const [rows, channels, taps] = [8, 10, 3];
      const big = f32Values(randomArray(rng, (rows + 2) * (channels + 3)));
      const stored = f32Values(randomArray(rng, channels * taps));
      const windowValues = Float64Array.from({ length: rows * channels }, (_, i) => big[(Math.floor(i / channels) + 1) * (channels + 3) + (i % channels) + 2]);
      const window = slice(tensor(big, [rows + 2, channels + 3]), [1, 2], [rows + 1, channels + 2]);
      const expected = convRef(windowValues, stored, undefined, rows, channels, taps);
      assertClose(causalConv1d(window, reshape(tensor(stored, [channels, 1, taps]), [channels, taps])).readSync(), expected, 1e-6, 'reshaped Conv1d weight');
      const byTap = Float64Array.from({ length: taps * channels }, (_, i) => stored[(i % channels) * taps + Math.floor(i / channels)]);
      assertClose(causalConv1d(window, transpose(tensor(byTap, [taps, channels]), [1, 0])).readSync(), expected, 1e-6, 'transposed weight');
    }));

  it('keeps f16 and bf16 windows in their dtype, summing in f32', () =>
    withSeed((rng) => {
      const [rows, channels, taps] = [6, 9, 3];
      for (const dtype of ['f16', 'bf16'] as const) {
        const w = tensor(f32Values(randomArray(rng, rows * channels)), [rows, channels], { dtype });
        const k = tensor(f32Values(randomArray(rng, channels * taps)), [channels, taps], { dtype });
        const out = causalConv1d(w, k);
        expect(out.dtype).toBe(dtype);
        assertClose(out.readFloat32Sync(), convRef(w.readFloat32Sync(), k.readFloat32Sync(), undefined, rows, channels, taps), dtype === 'f16' ? 2e-3 : 1e-2, dtype);
      }
    }));

  it('refuses bad input with typed errors', () => {
    const window = tensor(new Float32Array(12), [4, 3]);
    const refused = (fn: () => unknown, type: new (...args: never[]) => Error, message: RegExp) => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    };
    refused(() => causalConv1d(tensor(new Float32Array(12), [4, 3, 1]), tensor(new Float32Array(6), [3, 2])), ShapeMismatchError, /window must have rank 2/);
    refused(() => causalConv1d(window, tensor(new Float32Array(8), [4, 2])), ShapeMismatchError, /one row per channel/);
    refused(() => causalConv1d(window, tensor(new Float32Array(15), [3, 5])), ShapeMismatchError, /must hold at least the 5 rows of one output/);
    refused(() => causalConv1d(window, tensor(new Float32Array(6), [3, 2], { dtype: 'f16' })), DTypeMismatchError, /dtypes differ/);
    refused(() => causalConv1d(window, tensor(new Float32Array(6), [3, 2]), tensor(new Float32Array(2), [2])), ShapeMismatchError, /bias must have shape \[3\]/);
    refused(() => causalConv1d(tensor(new Int32Array(12), [4, 3], { dtype: 'i32' }), tensor(new Int32Array(6), [3, 2], { dtype: 'i32' })), UnsupportedDTypeError, /causalConv1d/);
  });
});
