import { describe, expect, it } from 'vitest';
import {
  assign, cast, concat, contiguous, expandDims, gather, reshape, scatter, slice, squeeze, tensor, transpose, zeros, full, ones, arange,
  numberToF16Bits,
} from '../src/index.js';
import { withSeed } from '../src/testing/index.js';
import { randomArray } from './reference.js';

describe('views', () => {
  it('slice, transpose, reshape, expandDims and squeeze move no data and read correctly', () => {
    const x = tensor(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
    const s = slice(x, [1, 1, 1], [2, 3, 3]);
    expect(s.shape).toEqual([1, 2, 2]);
    expect(Array.from(s.readSync())).toEqual([17, 18, 21, 22]);
    expect(s.isContiguous()).toBe(false);
    expect(Array.from(slice(x, [-1, 0, -2]).readSync())).toEqual([14, 15, 18, 19, 22, 23]);
    const t = transpose(x, [2, 0, 1]);
    expect(t.shape).toEqual([4, 2, 3]);
    expect(t.readSync()[1]).toBe(4);
    expect(Array.from(reshape(t, [4, -1]).readSync().slice(0, 6))).toEqual([0, 4, 8, 12, 16, 20]);
    expect(reshape(x, [6, 4]).isContiguous()).toBe(true);
    expect(expandDims(x, 1).shape).toEqual([2, 1, 3, 4]);
    expect(squeeze(expandDims(x, -1)).shape).toEqual([2, 3, 4]);
    expect(Array.from(contiguous(s).readSync())).toEqual([17, 18, 21, 22]);
  });

  it('rejects out-of-range slices, bad reshapes and bad permutations', () => {
    const x = zeros([2, 3]);
    expect(() => slice(x, [0, 2], [2, 4])).toThrow(expect.objectContaining({ code: 'INDEX_OUT_OF_RANGE' }));
    expect(() => reshape(x, [4, 2])).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => reshape(x, [-1, -1])).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => transpose(x, [0, 0])).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => squeeze(x, [0])).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
  });

  it('keeps storage alive while a view lives and refuses use after dispose', () => {
    const x = tensor([1, 2, 3, 4], [4]);
    const v = slice(x, [1], [3]);
    x.dispose();
    expect(Array.from(v.readSync())).toEqual([2, 3]);
    v.dispose();
    expect(() => v.readSync()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });
});

describe('creation', () => {
  it('validates shapes and integer ranges', () => {
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => tensor([300], [1], { dtype: 'u8' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => tensor([1.5], [1], { dtype: 'i32' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => tensor([1], [1], { dtype: 'f64' as never })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    expect(() => zeros([2, -1])).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(Array.from(full([3], 2.5).readSync())).toEqual([2.5, 2.5, 2.5]);
    expect(Array.from(ones([2], { dtype: 'i8' }).readSync())).toEqual([1, 1]);
    expect(Array.from(arange(2, 7, 2).readSync())).toEqual([2, 4, 6]);
    expect(tensor([1], [1], { dtype: 'f16' }).readSync()[0]).toBe(numberToF16Bits(1));
    expect(tensor(new Uint16Array([0x3c00]), [1], { dtype: 'f16' }).readFloat32Sync()[0]).toBe(1);
  });
});

describe('cast', () => {
  it('rounds floats, truncates and saturates float → int, maps NaN to 0', () => {
    const x = tensor([1.7, -1.7, 300, -300, NaN, 65519.99], [6]);
    expect(Array.from(cast(x, 'i8').readSync())).toEqual([1, -1, 127, -128, 0, 127]);
    expect(Array.from(cast(x, 'u8').readSync())).toEqual([1, 0, 255, 0, 0, 255]);
    expect(Array.from(cast(x, 'f16').readFloat32Sync().slice(0, 4))).toEqual([1.7001953125, -1.7001953125, 300, -300]);
    expect(cast(x, 'f16').readFloat32Sync()[5]).toBe(65504);
    expect(Array.from(cast(tensor([-5, 3], [2], { dtype: 'i32' }), 'u8').readSync())).toEqual([0, 3]);
    expect(cast(tensor([2 ** 24 + 1], [1], { dtype: 'i32' }), 'f32').readSync()[0]).toBe(2 ** 24);
  });
});

describe('concat, assign, gather, scatter', () => {
  it('concat along each axis equals the direct construction', () =>
    withSeed((rng) => {
      const a = randomArray(rng, 2 * 3).map(Math.fround);
      const b = randomArray(rng, 2 * 4).map(Math.fround);
      const out = concat([tensor(a, [2, 3]), tensor(b, [2, 4])], 1).readSync();
      expect(Array.from(out)).toEqual([...a.slice(0, 3), ...b.slice(0, 4), ...a.slice(3), ...b.slice(4)]);
      const rows = concat([tensor(a, [2, 3]), tensor(a, [2, 3])], 0);
      expect(rows.shape).toEqual([4, 3]);
      expect(() => concat([tensor(a, [2, 3]), tensor(b, [2, 4])], 0)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      expect(() => concat([], 0)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));

  it('assign writes into strided views in place', () => {
    const x = zeros([3, 4]);
    assign(slice(x, [0, 1], [3, 2]), tensor([1, 2, 3], [3, 1]));
    assign(transpose(slice(x, [1, 2], [3, 4])), tensor([5, 6, 7, 8], [2, 2]));
    expect(Array.from(x.readSync())).toEqual([0, 1, 0, 0, 0, 2, 5, 7, 0, 3, 6, 8]);
    expect(() => assign(slice(x, [0, 0], [1, 2]), tensor([1, 2, 3], [1, 3]))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => assign(x, zeros([3, 4], { dtype: 'f16' }))).toThrow(expect.objectContaining({ code: 'DTYPE_MISMATCH' }));
  });

  it('gather selects along an axis; scatter replaces or adds', () => {
    const x = tensor(Array.from({ length: 12 }, (_, i) => i), [3, 4]);
    expect(Array.from(gather(x, tensor([2, 0, 2], [3], { dtype: 'i32' }), 0).readSync())).toEqual([8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]);
    expect(Array.from(gather(x, tensor([3, 1], [2], { dtype: 'u32' }), 1).readSync())).toEqual([3, 1, 7, 5, 11, 9]);
    const upd = tensor([100, 200, 300, 400, 500, 600], [3, 2]);
    const idx = tensor([1, 3], [2], { dtype: 'i32' });
    expect(Array.from(scatter(x, idx, upd, 1).readSync())).toEqual([0, 100, 2, 200, 4, 300, 6, 400, 8, 500, 10, 600]);
    expect(Array.from(scatter(x, tensor([0, 0], [2], { dtype: 'i32' }), tensor([1, 1, 1, 1, 2, 2, 2, 2], [2, 4]), 0, 'add').readSync().slice(0, 4))).toEqual([3, 4, 5, 6]);
    expect(Array.from(x.readSync().slice(0, 2))).toEqual([0, 1]); // scatter returns a copy
    expect(() => gather(x, tensor([3], [1], { dtype: 'i32' }), 0)).toThrow(expect.objectContaining({ code: 'INDEX_OUT_OF_RANGE' }));
    expect(() => gather(x, tensor([-1], [1], { dtype: 'i32' }), 1)).toThrow(expect.objectContaining({ code: 'INDEX_OUT_OF_RANGE' }));
    expect(() => gather(x, tensor([0], [1]), 1)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    expect(() => scatter(x, idx, tensor([1, 2], [1, 2]), 1)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
  });
});
