import { attention, randomNormal, type Rng, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { decodeAttention, flashAttention, type KernelOptions } from '../src/index.js';
import { gappedPositions, i32, outputOf, probabilities } from './helpers/reference.js';

type Kernel = typeof flashAttention | typeof decodeAttention;
const kernels: [string, Kernel, Record<string, number>][] = [
  ['flashAttention', flashAttention, { tileSize: 16, queryBlock: 7 }],
  ['decodeAttention', decodeAttention, { tileSize: 16, partitionSize: 40 }],
];

/** One parity case against tensor-core's float64 reference attention, statistics included. */
function parity(rng: Rng, kernel: Kernel, extra: Record<string, number>, c: { d: number; group: number; m: number; n: number; dtype: 'f32' | 'f16'; options?: KernelOptions; gaps?: boolean }) {
  const kvHeads = 2;
  const q = randomNormal([kvHeads * c.group, c.m, c.d], rng, { dtype: c.dtype });
  const k = randomNormal([kvHeads, c.n, c.d], rng, { dtype: c.dtype });
  const v = randomNormal([kvHeads, c.n, c.d], rng, { dtype: c.dtype });
  const kPos = c.gaps ? gappedPositions(rng, c.n) : Int32Array.from({ length: c.n }, (_, j) => j);
  const last = c.n ? kPos[c.n - 1] : 0;
  const qPos = Int32Array.from({ length: c.m }, (_, i) => last - c.m + 1 + i + (c.gaps ? rng.int(3) : 0));
  const options = { ...c.options, queryPositions: i32(qPos), keyPositions: i32(kPos) };
  const ref = attention(q, k, v, { ...options, statistics: true });
  const got = kernel(q, k, v, { ...options, ...extra, statistics: true });
  const tol = c.dtype === 'f32' ? 1e-5 : 1e-2;
  const label = `${JSON.stringify({ ...c, options: c.options })}`;
  expect(got.output.shape).toEqual(ref.output.shape);
  expect(got.output.dtype).toBe(c.dtype);
  assertClose(got.output.readFloat32Sync(), ref.output.readFloat32Sync(), tol, `output ${label}`);
  assertClose(got.statistics!.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5, `keySum ${label}`);
  assertClose(got.statistics!.keyMax.readSync(), ref.statistics!.keyMax.readSync(), 1e-5, `keyMax ${label}`);
}

describe.each(kernels)('%s matches the float64 reference attention', (_name, kernel, extra) => {
  for (const d of [64, 128]) {
    for (const group of [1, 2, 4, 8]) {
      it(`head_dim ${d}, GQA ${group}: lengths that do not divide the tiles, length 1, f32 and f16`, () =>
        withSeed((rng) => {
          for (const [m, n] of [[1, 1], [1, 77], [3, 50], [23, 23], [9, 61]]) {
            parity(rng, kernel, extra, { d, group, m, n, dtype: 'f32' });
          }
          parity(rng, kernel, extra, { d, group, m: 2, n: 45, dtype: 'f16' });
        }));
    }
  }

  it('sliding window, soft-cap, custom scale, non-causal and positions with gaps', () =>
    withSeed((rng) => {
      const d = 64;
      for (const options of [{ window: 7 }, { softcap: 5 }, { scale: 0.3 }, { causal: false }, { window: 20, softcap: 2, scale: 0.2 }]) {
        parity(rng, kernel, extra, { d, group: 4, m: 13, n: 57, dtype: 'f32', options, gaps: true });
        parity(rng, kernel, extra, { d, group: 1, m: 1, n: 33, dtype: 'f32', options, gaps: true });
      }
    }));

  it('queries that see no key output zeros, never NaN', () =>
    withSeed((rng) => {
      const q = randomNormal([2, 2, 8], rng);
      const k = randomNormal([1, 5, 8], rng);
      const v = randomNormal([1, 5, 8], rng);
      const got = kernel(q, k, v, { ...extra, queryPositions: i32(Int32Array.of(-3, 10)), keyPositions: i32(Int32Array.of(0, 1, 2, 3, 4)), returnLse: true });
      const ref = attention(q, k, v, { queryPositions: i32(Int32Array.of(-3, 10)), keyPositions: i32(Int32Array.of(0, 1, 2, 3, 4)) });
      assertClose(got.output.readSync(), ref.output.readSync(), 1e-6);
      const lse = got.lse!.readSync();
      expect(lse[0]).toBe(-Infinity);
      expect(Number.isFinite(lse[1])).toBe(true);
      // empty cache: zeros
      const empty = kernel(q, randomNormal([1, 0, 8], rng), randomNormal([1, 0, 8], rng), extra);
      expect([...empty.output.readSync()].every((x) => x === 0)).toBe(true);
    }));

  it('returns the log-sum-exp of each row', () =>
    withSeed((rng) => {
      const q = randomNormal([4, 3, 16], rng);
      const k = randomNormal([2, 40, 16], rng);
      const v = randomNormal([2, 40, 16], rng);
      const got = kernel(q, k, v, { ...extra, returnLse: true });
      const qv = q.readSync();
      const kv = k.readSync();
      const expected: number[] = [];
      for (let h = 0; h < 4; h++)
        for (let i = 0; i < 3; i++) {
          let total = 0;
          for (let j = 0; j <= 37 + i; j++) {
            let s = 0;
            for (let c = 0; c < 16; c++) s += qv[(h * 3 + i) * 16 + c] * kv[(Math.floor(h / 2) * 40 + j) * 16 + c];
            total += Math.exp(s / 4);
          }
          expected.push(Math.log(total));
        }
      assertClose(got.lse!.readSync(), expected, 1e-6);
    }));
});

describe('statistics for eviction scorers', () => {
  it('observation window, decay (A2SF) and visible-query counts (ZipCache) follow their definitions', () =>
    withSeed((rng) => {
      const [qHeads, kvHeads, m, n, d] = [8, 2, 20, 45, 32];
      const q = randomNormal([qHeads, m, d], rng);
      const k = randomNormal([kvHeads, n, d], rng);
      const v = randomNormal([kvHeads, n, d], rng);
      const kPos = gappedPositions(rng, n);
      const qPos = kPos.slice(n - m);
      for (const [kernel, extra] of [[flashAttention, { queryBlock: 6, tileSize: 8 }], [decodeAttention, { partitionSize: 16, tileSize: 8 }]] as const) {
        for (const stats of [{ window: 6 }, { decay: 0.9 }, { window: 9, decay: 0.5 }]) {
          const mask = { window: 30 };
          const got = kernel(q, k, v, { ...extra, ...mask, queryPositions: i32(qPos), keyPositions: i32(kPos), statistics: stats });
          const p = probabilities(q, k, { qPos, kPos, ...mask });
          const first = stats.window ? m - stats.window : 0;
          const decay = stats.decay ?? 1;
          const sum = new Float64Array(qHeads * n);
          const max = new Float64Array(qHeads * n);
          const count = new Float64Array(n);
          for (let h = 0; h < qHeads; h++)
            for (let i = first; i < m; i++)
              for (let j = 0; j < n; j++) {
                sum[h * n + j] += decay ** (m - 1 - i) * p[h][i][j];
                max[h * n + j] = Math.max(max[h * n + j], p[h][i][j]);
              }
          for (let i = first; i < m; i++) for (let j = 0; j < n; j++) if (kPos[j] <= qPos[i] && qPos[i] - kPos[j] < 30) count[j] += 1;
          assertClose(got.statistics!.keySum.readSync(), sum, 1e-5, `keySum ${JSON.stringify(stats)}`);
          assertClose(got.statistics!.keyMax.readSync(), max, 1e-5, `keyMax ${JSON.stringify(stats)}`);
          expect(got.statistics!.queryCount.shape).toEqual([kvHeads, n]);
          expect([...got.statistics!.queryCount.readSync()]).toEqual([...count, ...count]);
        }
      }
    }));

  it('arbitrary query weights, probability rows and per-key log weights follow their definitions', () =>
    withSeed((rng) => {
      const [qHeads, kvHeads, m, n, d] = [8, 2, 12, 70, 32];
      const q = randomNormal([qHeads, m, d], rng);
      const k = randomNormal([kvHeads, n, d], rng);
      const v = randomNormal([kvHeads, n, d], rng);
      const kPos = gappedPositions(rng, n);
      const qPos = kPos.slice(n - m);
      const lw = Float32Array.from({ length: kvHeads * n }, () => (rng.uniform() < 0.2 ? Math.log(1 + rng.int(5)) : 0));
      const w = 5;
      const weights = Float64Array.from({ length: w }, () => rng.uniform() * 2);
      const p = probabilities(q, k, { qPos, kPos, softcap: 4, logWeights: lw });
      const sum = new Float64Array(qHeads * n);
      const rows = new Float64Array(qHeads * 3 * n);
      for (let h = 0; h < qHeads; h++)
        for (let i = m - w; i < m; i++)
          for (let j = 0; j < n; j++) {
            sum[h * n + j] += weights[i - (m - w)] * p[h][i][j];
            if (i >= m - 3) rows[(h * 3 + i - (m - 3)) * n + j] = p[h][i][j];
          }
      for (const [kernel, extra] of [[flashAttention, { queryBlock: 5, tileSize: 16 }], [decodeAttention, { partitionSize: 24, tileSize: 16 }]] as const) {
        const got = kernel(q, k, v, {
          ...extra,
          softcap: 4,
          queryPositions: i32(qPos),
          keyPositions: i32(kPos),
          keyLogWeights: tensor(lw, [kvHeads, n]),
          statistics: { window: w, weights, rowProbabilities: 3 },
        });
        assertClose(got.output.readSync(), outputOf(p, v), 1e-5, 'output with log weights');
        assertClose(got.statistics!.keySum.readSync(), sum, 1e-5, 'weighted keySum');
        expect(got.statistics!.rowProbabilities!.shape).toEqual([qHeads, 3, n]);
        assertClose(got.statistics!.rowProbabilities!.readSync(), rows, 1e-5, 'probability rows');
        expect(() => kernel(q, k, v, { statistics: { window: w, weights: [1, 2] } })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
        expect(() => kernel(q, k, v, { statistics: { window: 2, rowProbabilities: 3 } })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
        expect(() => kernel(q, k, v, { statistics: { weights: new Float64Array(m), decay: 0.5 } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
        expect(() => kernel(q, k, v, { keyLogWeights: tensor(lw, [1, kvHeads * n]) })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      }
    }));

  it('refuses bad shapes and options with typed errors', () =>
    withSeed((rng) => {
      const q = randomNormal([4, 1, 8], rng);
      const k = randomNormal([2, 5, 8], rng);
      const v = randomNormal([2, 5, 8], rng);
      for (const kernel of [flashAttention, decodeAttention]) {
        expect(() => kernel(randomNormal([3, 1, 8], rng), k, v)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
        expect(() => kernel(q, randomNormal([2, 5, 4], rng), v)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
        expect(() => kernel(q, k, randomNormal([2, 4, 8], rng))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
        expect(() => kernel(q, k, randomNormal([2, 5, 8], rng, { dtype: 'f16' }))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
        expect(() => kernel(tensor(new Int32Array(32), [4, 1, 8], { dtype: 'i32' }), k, v)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
        expect(() => kernel(q, k, v, { window: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
        expect(() => kernel(q, k, v, { tileSize: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
        expect(() => kernel(q, k, v, { statistics: { decay: 2 } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
        expect(() => kernel(q, k, v, { keyPositions: Int32Array.of(1, 2) })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      }
    }));
});
