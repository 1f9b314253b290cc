import { tensor, unpackCodes } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { dequantizeLut, dequantizeVector, mergeOutliers, quantizeLut, quantizeVector, splitOutliers } from '../src/index.js';
import { randomArray } from './helpers.js';

describe('dense-and-sparse outlier split', () => {
  it('takes the k entries farthest from the row mean, keeps their exact values, and fills their place with the inlier mean', () =>
    withSeed((rng) => {
      const rows = 6;
      const d = 12;
      const x = randomArray(rng, rows * d);
      for (let r = 0; r < rows; r++) x[r * d + rng.int(d)] += 40 * (rng.uniform() < 0.5 ? -1 : 1);
      const split = splitOutliers(tensor(x, [rows, d]), { count: 2, center: 'mean', valueDType: 'f32', indexDType: 'u8' });
      const idx = split.indices.readSync();
      const vals = split.values.readSync();
      const inl = split.inliers.readSync();
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * d, (r + 1) * d));
        const mean = row.reduce((a, b) => a + b, 0) / d;
        const expected = row
          .map((_, c) => c)
          .sort((a, b) => Math.abs(row[b] - mean) - Math.abs(row[a] - mean) || a - b)
          .slice(0, 2)
          .sort((a, b) => a - b);
        expect([idx[r * 2], idx[r * 2 + 1]]).toEqual(expected);
        expect([vals[r * 2], vals[r * 2 + 1]]).toEqual(expected.map((c) => row[c]));
        const inliers = row.filter((_, c) => !expected.includes(c));
        const fill = inliers.reduce((a, b) => a + b, 0) / inliers.length;
        for (let c = 0; c < d; c++) expect(inl[r * d + c]).toBeCloseTo(expected.includes(c) ? fill : row[c], 5);
      }
      const merged = mergeOutliers(split.inliers, split.indices, split.values).readSync();
      expect(Array.from(merged)).toEqual(Array.from(x));
      expect(() => splitOutliers(tensor(x, [rows, d]), { count: d, center: 'mean', valueDType: 'f32', indexDType: 'u8' })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' })
      );
    }));
});

describe('lookup-table (non-uniform) quantization', () => {
  it('codes are the nearest level after min–max normalization into [−1, 1]; x̂ = level · scale + zero', () =>
    withSeed((rng) => {
      const levels = Float32Array.of(-1, -0.6, -0.25, -0.05, 0.05, 0.3, 0.65, 1);
      const x = randomArray(rng, 4 * 16, 3);
      const attrs = { bits: 3, groupSize: 8, normalize: 'minmax' as const, paramDType: 'f16' as const };
      const q = quantizeLut(tensor(x, [4, 16]), tensor(levels), attrs);
      const codes = unpackCodes(q.codes.readSync() as Uint32Array, 16, 3, 8);
      const scale = q.scale!.readFloat32Sync();
      const zero = q.zero!.readFloat32Sync();
      const back = dequantizeLut(q, tensor(levels), 16, attrs).readSync();
      for (let i = 0; i < x.length; i++) {
        const p = Math.floor(i / 8);
        const u = (x[i] - zero[p]) / scale[p];
        expect(Math.abs(u)).toBeLessThanOrEqual(1 + 1e-9);
        let best = 0;
        for (let j = 1; j < 8; j++) if (Math.abs(u - levels[j]) < Math.abs(u - levels[best])) best = j;
        expect(codes[i]).toBe(best);
        expect(back[i]).toBe(Math.fround(levels[best] * scale[p] + zero[p]));
      }
      expect(() => quantizeLut(tensor(x, [4, 16]), tensor(levels.subarray(0, 4)), attrs)).toThrow(
        expect.objectContaining({ code: 'SHAPE_MISMATCH' })
      );
    }));
});

describe('vector (coupled) quantization', () => {
  it('each group of channels gets the index of its nearest centroid in its own codebook', () =>
    withSeed((rng) => {
      const [h, n, d, c, bits] = [2, 7, 8, 4, 3];
      const groups = d / c;
      const books = randomArray(rng, h * groups * 2 ** bits * c);
      const x = randomArray(rng, h * n * d);
      const codes = quantizeVector(tensor(x, [h, n, d]), tensor(books, [h, groups, 8, c]), { channels: c, bits });
      const unpacked = unpackCodes(codes.readSync() as Uint32Array, groups, bits);
      const back = dequantizeVector(codes, tensor(books, [h, groups, 8, c]), { channels: c, bits }).readSync();
      for (let head = 0; head < h; head++)
        for (let t = 0; t < n; t++)
          for (let g = 0; g < groups; g++) {
            let best = 0;
            let bestDist = Infinity;
            for (let k = 0; k < 8; k++) {
              let dist = 0;
              for (let j = 0; j < c; j++) dist += (x[(head * n + t) * d + g * c + j] - books[((head * groups + g) * 8 + k) * c + j]) ** 2;
              if (dist < bestDist) [best, bestDist] = [k, dist];
            }
            expect(unpacked[(head * n + t) * groups + g]).toBe(best);
            for (let j = 0; j < c; j++) expect(back[(head * n + t) * d + g * c + j]).toBe(books[((head * groups + g) * 8 + best) * c + j]);
          }
      expect(() => quantizeVector(tensor(x, [h, n, d]), tensor(books, [h, groups, 8, c]), { channels: c, bits: 2 })).toThrow(
        expect.objectContaining({ code: 'SHAPE_MISMATCH' })
      );
    }));
});
