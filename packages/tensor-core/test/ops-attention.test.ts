import { describe, expect, it } from 'vitest';
import { attention, contiguous, setSimdKernels, slice, tensor, transpose } from '../src/index.js';
import { assertClose, referenceLogSumExp, withSeed } from '../src/testing/index.js';
import { f32Values, naiveAttention, randomArray } from './reference.js';

describe('reference attention', () => {
  const configs = [
    { qHeads: 1, kvHeads: 1, m: 1, n: 1, d: 8, dv: 8 },
    { qHeads: 4, kvHeads: 4, m: 5, n: 5, d: 16, dv: 16 },
    { qHeads: 8, kvHeads: 2, m: 3, n: 37, d: 64, dv: 64 },
    { qHeads: 8, kvHeads: 1, m: 1, n: 50, d: 32, dv: 24 },
    { qHeads: 6, kvHeads: 3, m: 13, n: 13, d: 12, dv: 12 },
  ];
  for (const dims of configs) {
    it(`matches the textbook formula with repeated K/V: ${JSON.stringify(dims)}`, () =>
      withSeed((rng) => {
        const { qHeads, kvHeads, m, n, d, dv } = dims;
        const q = f32Values(randomArray(rng, qHeads * m * d));
        const k = f32Values(randomArray(rng, kvHeads * n * d));
        const v = f32Values(randomArray(rng, kvHeads * n * dv));
        for (const mask of [
          { causal: true, window: 0, softcap: 0 },
          { causal: false, window: 0, softcap: 0 },
          { causal: true, window: 4, softcap: 0 },
          { causal: true, window: 0, softcap: 1.5 },
        ]) {
          const qPos = Array.from({ length: m }, (_, i) => n - m + i);
          const kPos = Array.from({ length: n }, (_, j) => j);
          const ref = naiveAttention(q, k, v, dims, { scale: 1 / Math.sqrt(d), qPos, kPos, ...mask });
          const res = attention(tensor(q, [qHeads, m, d]), tensor(k, [kvHeads, n, d]), tensor(v, [kvHeads, n, dv]), {
            causal: mask.causal,
            window: mask.window || undefined,
            softcap: mask.softcap || undefined,
            statistics: true,
            returnLse: true,
          });
          const label = JSON.stringify(mask);
          assertClose(res.output.readSync(), ref.out, 1e-6, `output ${label}`);
          const lse = referenceLogSumExp(q, k, { qHeads, kvHeads, m, n, d }, qPos, kPos, mask);
          assertClose(res.lse!.readSync(), lse, 1e-6, `lse ${label}`);
          assertClose(res.statistics!.keySum.readSync(), ref.keySum, 1e-6, `keySum ${label}`);
          assertClose(res.statistics!.keyMax.readSync(), ref.keyMax, 1e-6, `keyMax ${label}`);
        }
      }));
  }

  // f32 operands take the WebAssembly SIMD loops (scores and the weighted value sum) where
  // available: the same values, output and statistics, as the JavaScript loops.
  it('gives the same values with SIMD and without (odd head dims, gaps in positions, masks)', () =>
    withSeed((rng) => {
      try {
        for (const dims of [
          { qHeads: 4, kvHeads: 2, m: 7, n: 61, d: 63, dv: 65 },
          { qHeads: 2, kvHeads: 1, m: 1, n: 300, d: 64, dv: 64 },
        ]) {
          const { qHeads, kvHeads, m, n, d, dv } = dims;
          const q = f32Values(randomArray(rng, qHeads * m * d));
          const k = f32Values(randomArray(rng, kvHeads * n * d));
          const v = f32Values(randomArray(rng, kvHeads * n * dv));
          const kPos = Array.from({ length: n }, (_, j) => 2 * j + (j % 3));
          const qPos = Array.from({ length: m }, (_, i) => kPos[n - 1] - 3 * (m - 1 - i));
          for (const mask of [{ causal: true }, { causal: false, window: 40 }, { causal: true, softcap: 2 }]) {
            const run = (simd: boolean) => {
              setSimdKernels(simd);
              const res = attention(tensor(q, [qHeads, m, d]), tensor(k, [kvHeads, n, d]), tensor(v, [kvHeads, n, dv]), {
                ...mask,
                queryPositions: tensor(qPos, [m], { dtype: 'i32' }),
                keyPositions: tensor(kPos, [n], { dtype: 'i32' }),
                statistics: true,
              });
              return [res.output.readSync(), res.statistics!.keySum.readSync(), res.statistics!.keyMax.readSync()].map((x) => Array.from(x));
            };
            const [simd, loops] = [run(true), run(false)];
            expect(simd, `${JSON.stringify(dims)} ${JSON.stringify(mask)}`).toEqual(loops);
            const ref = naiveAttention(q, k, v, dims, { scale: 1 / Math.sqrt(d), qPos, kPos, causal: mask.causal, window: mask.window ?? 0, softcap: mask.softcap ?? 0 });
            assertClose(simd[0], ref.out, 1e-6, `output ${JSON.stringify(mask)}`);
          }
        }
      } finally {
        setSimdKernels(true);
      }
    }));

  it('honours explicit positions with gaps (after eviction) and gives zeros when no key is visible', () =>
    withSeed((rng) => {
      const dims = { qHeads: 2, kvHeads: 1, m: 2, n: 4, d: 8, dv: 8 };
      const q = f32Values(randomArray(rng, 2 * 2 * 8));
      const k = f32Values(randomArray(rng, 4 * 8));
      const v = f32Values(randomArray(rng, 4 * 8));
      const qPos = [3, 20];
      const kPos = [0, 5, 9, 19];
      const ref = naiveAttention(q, k, v, dims, { scale: 0.3, qPos, kPos, causal: true, window: 0, softcap: 0 });
      const out = attention(tensor(q, [2, 2, 8]), tensor(k, [1, 4, 8]), tensor(v, [1, 4, 8]), {
        scale: 0.3,
        queryPositions: tensor(qPos, [2], { dtype: 'i32' }),
        keyPositions: tensor(kPos, [4], { dtype: 'i32' }),
      }).output.readSync();
      assertClose(out, ref.out, 1e-6);
      const none = attention(tensor(q.subarray(0, 8), [1, 1, 8]), tensor(k, [1, 4, 8]), tensor(v, [1, 4, 8]), {
        queryPositions: tensor([2], [1], { dtype: 'i32' }),
        keyPositions: tensor([5, 6, 7, 8], [4], { dtype: 'i32' }),
        returnLse: true,
      });
      expect(Array.from(none.output.readSync())).toEqual(new Array(8).fill(0));
      expect(Array.from(none.lse!.readSync())).toEqual([-Infinity]);
    }));

  it('reads f16 K/V with f32 queries', () =>
    withSeed((rng) => {
      const dims = { qHeads: 4, kvHeads: 2, m: 1, n: 9, d: 16, dv: 16 };
      const q = f32Values(randomArray(rng, 4 * 16));
      const kT = tensor(randomArray(rng, 2 * 9 * 16), [2, 9, 16], { dtype: 'f16' });
      const vT = tensor(randomArray(rng, 2 * 9 * 16), [2, 9, 16], { dtype: 'f16' });
      const ref = naiveAttention(q, kT.readFloat32Sync(), vT.readFloat32Sync(), dims, {
        scale: 0.25, qPos: [8], kPos: [...Array(9).keys()], causal: true, window: 0, softcap: 0,
      });
      assertClose(attention(tensor(q, [4, 1, 16]), kT, vT).output.readSync(), ref.out, 1e-6);
    }));

  it('reads strided K/V views (the first n rows of a cache, a transposed layout) in f16, bf16 and f32 as their contiguous copies, with SIMD and without', () =>
    withSeed((rng) => {
      const [kvHeads, capacity, n, d] = [2, 23, 17, 12];
      const q = tensor(randomArray(rng, 4 * 3 * d), [4, 3, d]);
      const positions = { queryPositions: tensor(Int32Array.from([14, 15, 16]), [3], { dtype: 'i32' }) };
      try {
        for (const dtype of ['f16', 'bf16', 'f32'] as const) {
          // A cache [kvHeads, capacity, d] holding n tokens, and the same rows stored [d, kvHeads, capacity].
          const cacheK = tensor(randomArray(rng, kvHeads * capacity * d), [kvHeads, capacity, d], { dtype });
          const cacheV = tensor(randomArray(rng, kvHeads * capacity * d), [kvHeads, capacity, d], { dtype });
          const viewK = slice(cacheK, [0, 0, 0], [kvHeads, n, d]);
          const transposedV = slice(transpose(contiguous(transpose(cacheV, [2, 0, 1])), [1, 2, 0]), [0, 0, 0], [kvHeads, n, d]);
          expect(viewK.isContiguous() || transposedV.isContiguous()).toBe(false);
          for (const simd of [true, false]) {
            setSimdKernels(simd);
            const strided = attention(q, viewK, transposedV, positions).output.readSync();
            const copied = attention(q, contiguous(viewK), contiguous(transposedV), positions).output.readSync();
            expect(Array.from(strided), `${dtype}, SIMD ${simd}`).toEqual(Array.from(copied));
          }
        }
      } finally {
        setSimdKernels(true);
      }
    }));

  it('rejects shapes that are not q [H, m, d], k/v [Hkv, n, d] and bad masks', () => {
    const q = tensor(new Float32Array(3 * 2 * 4), [3, 2, 4]);
    const k = tensor(new Float32Array(2 * 5 * 4), [2, 5, 4]);
    expect(() => attention(q, k, k)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    const q4 = tensor(new Float32Array(4 * 2 * 4), [4, 2, 4]);
    expect(() => attention(q4, k, tensor(new Float32Array(2 * 4 * 4), [2, 4, 4]))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => attention(q4, k, k, { window: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => attention(q4, k, k, { scale: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => attention(q4, k, k, { keyPositions: tensor([0, 1], [2], { dtype: 'i32' }) })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
  });
});
