// The edge behaviour of the LUT and outlier kernels that every backend shares (defined in
// kernels/lut.ts and kernels/outliers.ts, checked bit for bit on WebGPU and CUDA by gpu-lut-cases.ts),
// on small hand-checked cases on the CPU.
import { tensor } from '@kvkit/tensor-core';
import { describe, expect, it } from 'vitest';
import { dequantizeLut, mergeOutliers, quantizeLut, splitOutliers } from '../src/index.js';

const levels = tensor([-1, -0.5, 0.5, 1], [4]);

describe('LUT and outlier kernels: shared edge behaviour', () => {
  it('a value exactly between two levels takes the lower one; NaN takes code 0; ±∞ the ends', async () => {
    const attrs = { bits: 2, groupSize: 8, normalize: 'none', paramDType: 'f32' } as const;
    const q = quantizeLut(tensor([0, -0.75, 0.75, NaN, Infinity, -Infinity, 0.25, -0], [1, 8]), levels, attrs);
    // 2-bit codes, 16 to a word, the first value in the lowest bits: [1, 0, 2, 0, 3, 0, 2, 1].
    const codes = [1, 0, 2, 0, 3, 0, 2, 1];
    expect(Array.from(await q.codes.read())).toEqual([codes.reduce((w, c, i) => w | (c << (2 * i)), 0)]);
    expect(Array.from(await dequantizeLut(q, levels, 8, attrs).read())).toEqual([-0.5, -1, 0.5, -1, 1, -1, 0.5, -0.5]);
  });

  it('min–max: zero = the midpoint, scale = the half range; a tie after float64 rounding takes the lower level', async () => {
    const attrs = { bits: 2, groupSize: 4, normalize: 'minmax', paramDType: 'f32' } as const;
    // zero −0.5, scale 1, levels whose neighbours 0.25 and 0.75 meet at 0.5: x = 2^−60 normalizes to
    // 0.5 + 2^−60, which float64 rounds to the tie 0.5 (code 1, not 2); 0.5 + 2^−52 is above it (code 2).
    const table = tensor([-1, 0.25, 0.75, 1], [4]);
    const q = quantizeLut(tensor([-1.5, 0.5, 2 ** -60, 2 ** -52], [1, 4]), table, attrs);
    expect(Array.from(await q.zero!.read())).toEqual([-0.5]);
    expect(Array.from(await q.scale!.read())).toEqual([1]);
    expect(Array.from(await q.codes.read())).toEqual([0 | (3 << 2) | (1 << 4) | (2 << 6)]);
    expect(Array.from(await dequantizeLut(q, table, 4, attrs).read())).toEqual([-1.5, 0.5, -0.25, 0.25]);
  });

  it('NaN distances rank above +∞ (NaNs are outliers first), equal distances by index', async () => {
    const split = splitOutliers(tensor([1, NaN, -3, Infinity, 3, NaN], [1, 6]), { count: 3, center: 'zero', valueDType: 'f32', indexDType: 'i32' });
    expect(Array.from(await split.indices.read())).toEqual([1, 3, 5]);
    expect(Array.from(await split.values.read())).toEqual([NaN, Infinity, NaN]);
    // The outliers' places hold the inliers' mean: (1 − 3 + 3) / 3.
    expect(Array.from(await split.inliers.read())).toEqual([1, 1 / 3, -3, 1 / 3, 3, 1 / 3].map(Math.fround));
    const ties = splitOutliers(tensor([2, -2, 1, 2], [1, 4]), { count: 2, center: 'zero', valueDType: 'f32', indexDType: 'u8' });
    expect(Array.from(await ties.indices.read())).toEqual([0, 1]);
  });

  it("center 'mean' with ±∞ in the row: the center is NaN, every distance ties, the first indices are the outliers", async () => {
    const split = splitOutliers(tensor([5, Infinity, 1, -Infinity], [1, 4]), { count: 2, center: 'mean', valueDType: 'f32', indexDType: 'u8' });
    expect(Array.from(await split.indices.read())).toEqual([0, 1]);
  });

  it('merge: a later repeated index wins, an index outside the row is skipped', async () => {
    const dense = tensor([0, 0, 0, 0, 0, 0, 0, 0], [2, 4]);
    const indices = tensor([1, 1, 4, -1, 3, 0], [2, 3], { dtype: 'i32' });
    const values = tensor([5, 6, 7, 8, 9, 10], [2, 3]);
    expect(Array.from(await mergeOutliers(dense, indices, values).read())).toEqual([0, 6, 0, 0, 10, 0, 0, 9]);
  });
});
