import { attention, concat, randomNormal, slice, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { attentionStatistics, batchedDecodeAttention, decodeAttention, mergeAttentionStates, poolKeyScores, reduceQueryGroups } from '../src/index.js';
import { gappedPositions, i32 } from './helpers/reference.js';

describe('batchedDecodeAttention', () => {
  it('equals the reference per request, for requests of different lengths (0 and 1 included)', () =>
    withSeed((rng) => {
      for (const [d, group] of [[64, 4], [128, 8], [64, 1]]) {
        const lengths = [37, 1, 0, 130, 64];
        const total = lengths.reduce((a, b) => a + b, 0);
        const kvHeads = 2;
        const m = 2;
        const q = randomNormal([lengths.length, kvHeads * group, m, d], rng);
        const k = randomNormal([kvHeads, total, d], rng);
        const v = randomNormal([kvHeads, total, d], rng);
        const got = batchedDecodeAttention(q, k, v, { kvLengths: lengths, statistics: true, returnLse: true, partitionSize: 32, tileSize: 16 });
        expect(got.output.shape).toEqual([5, kvHeads * group, m, d]);
        const out = got.output.readSync();
        const keySum = got.statistics!.keySum.readSync();
        let start = 0;
        for (const [b, n] of lengths.entries()) {
          const qb = slice(q, [b], [b + 1]);
          const q3 = tensor(qb.readSync(), q.shape.slice(1));
          const ref = attention(q3, slice(k, [0, start], [kvHeads, start + n]), slice(v, [0, start], [kvHeads, start + n]), { statistics: true });
          const per = q3.size;
          assertClose(out.subarray(b * per, (b + 1) * per), ref.output.readSync(), 1e-5, `request ${b} (n ${n})`);
          const refSum = ref.statistics!.keySum.readSync();
          for (let h = 0; h < kvHeads * group; h++) {
            assertClose(keySum.subarray(h * total + start, h * total + start + n), refSum.subarray(h * n, (h + 1) * n), 1e-5, `keySum ${b}`);
          }
          start += n;
        }
      }
    }));

  it('per-key log weights and probability rows are read at each request\'s offset in the packed cache', () =>
    withSeed((rng) => {
      const lengths = [20, 45, 7];
      const total = 72;
      const q = randomNormal([3, 8, 2, 32], rng);
      const k = randomNormal([2, total, 32], rng);
      const v = randomNormal([2, total, 32], rng);
      const lw = Float32Array.from({ length: 2 * total }, () => rng.uniform());
      const stats = { rowProbabilities: 1 };
      const got = batchedDecodeAttention(q, k, v, { kvLengths: lengths, keyLogWeights: tensor(lw, [2, total]), statistics: stats, tileSize: 8 });
      const out = got.output.readSync();
      const rows = got.statistics!.rowProbabilities!;
      expect(rows.shape).toEqual([8, 1, total]);
      let start = 0;
      lengths.forEach((n, b) => {
        const w = new Float32Array(2 * n);
        for (let h = 0; h < 2; h++) w.set(lw.subarray(h * total + start, h * total + start + n), h * n);
        const one = decodeAttention(tensor(slice(q, [b], [b + 1]).readSync(), [8, 2, 32]), slice(k, [0, start], [2, start + n]), slice(v, [0, start], [2, start + n]), {
          keyLogWeights: tensor(w, [2, n]),
          statistics: stats,
        });
        assertClose(out.subarray(b * 8 * 2 * 32, (b + 1) * 8 * 2 * 32), one.output.readSync(), 1e-6, `request ${b}`);
        const mine = rows.readSync();
        const ref = one.statistics!.rowProbabilities!.readSync();
        for (let h = 0; h < 8; h++) assertClose(mine.subarray(h * total + start, h * total + start + n), ref.subarray(h * n, (h + 1) * n), 1e-6, `row probabilities ${b}`);
        start += n;
      });
    }));

  it('refuses lengths that do not match the packed cache', () =>
    withSeed((rng) => {
      const q = randomNormal([2, 4, 1, 8], rng);
      const k = randomNormal([2, 10, 8], rng);
      expect(() => batchedDecodeAttention(q, k, k, { kvLengths: [3, 3] })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      expect(() => batchedDecodeAttention(q, k, k, { kvLengths: [10] })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      expect(() => batchedDecodeAttention(q, k, k, { kvLengths: [11, -1] })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => batchedDecodeAttention(randomNormal([4, 1, 8], rng), k, k, { kvLengths: [10] })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    }));
});

describe('mergeAttentionStates', () => {
  it('merging partial results over disjoint key ranges gives the result over all keys', () =>
    withSeed((rng) => {
      const [qHeads, kvHeads, n, d] = [8, 2, 90, 32];
      const q = randomNormal([qHeads, 1, d], rng);
      const k = randomNormal([kvHeads, n, d], rng);
      const v = randomNormal([kvHeads, n, d], rng);
      const kPos = gappedPositions(rng, n);
      const qPos = Int32Array.of(kPos[n - 1]);
      const cuts = [0, 17, 18, 60, 90];
      const parts = cuts.slice(0, -1).map((a, i) => {
        const b = cuts[i + 1];
        const r = decodeAttention(q, slice(k, [0, a], [kvHeads, b]), slice(v, [0, a], [kvHeads, b]), {
          queryPositions: qPos,
          keyPositions: kPos.slice(a, b),
          returnLse: true,
        });
        return { output: r.output, lse: r.lse! };
      });
      const merged = mergeAttentionStates(parts);
      const whole = decodeAttention(q, k, v, { queryPositions: qPos, keyPositions: kPos, returnLse: true });
      const ref = attention(q, k, v, { queryPositions: i32(qPos), keyPositions: i32(kPos) });
      assertClose(merged.output.readSync(), ref.output.readSync(), 1e-5);
      assertClose(merged.lse.readSync(), whole.lse!.readSync(), 1e-6);
      // a part that saw nothing changes nothing; all-empty rows stay zero
      const empty = { output: tensor(new Float32Array(qHeads * d), [qHeads, 1, d]), lse: tensor(new Float32Array(qHeads).fill(-Infinity), [qHeads, 1]) };
      assertClose(mergeAttentionStates([...parts, empty]).output.readSync(), ref.output.readSync(), 1e-5);
      expect([...mergeAttentionStates([empty, empty]).output.readSync()].every((x) => x === 0)).toBe(true);
      expect(() => mergeAttentionStates([parts[0], { output: concat([parts[1].output, parts[1].output], 1), lse: parts[1].lse }])).toThrow(
        expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
      );
      expect(() => mergeAttentionStates([])).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    }));
});

describe('statistics without outputs', () => {
  it('attentionStatistics of an observation window equals the reference statistics of those queries', () =>
    withSeed((rng) => {
      const [qHeads, kvHeads, n, d, w] = [8, 2, 120, 64, 16];
      const q = randomNormal([qHeads, w, d], rng);
      const k = randomNormal([kvHeads, n, d], rng);
      const v = randomNormal([kvHeads, n, d], rng);
      const stats = attentionStatistics(q, k, { tileSize: 32, queryBlock: 5 });
      const ref = attention(q, k, v, { statistics: true });
      assertClose(stats.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5);
      assertClose(stats.keyMax.readSync(), ref.statistics!.keyMax.readSync(), 1e-5);
      const count = stats.queryCount.readSync();
      for (let h = 0; h < kvHeads; h++) for (let j = 0; j < n; j++) expect(count[h * n + j]).toBe(Math.min(w, n - j)); // causal: queries at n−w … n−1
    }));

  it('poolKeyScores: max and zero-padded average over odd neighbourhoods (SnapKV)', () => {
    const scores = tensor([1, 5, 2, 0, 3, 9, 4, 4, 0, 1], [2, 5]);
    expect([...poolKeyScores(scores, { kernelSize: 3, mode: 'max' }).readSync()]).toEqual([5, 5, 5, 3, 3, 9, 9, 4, 4, 1]);
    assertClose(poolKeyScores(scores, { kernelSize: 3, mode: 'avg' }).readSync(), [6 / 3, 8 / 3, 7 / 3, 5 / 3, 3 / 3, 13 / 3, 17 / 3, 8 / 3, 5 / 3, 1 / 3], 1e-7);
    expect([...poolKeyScores(scores, { kernelSize: 1, mode: 'max' }).readSync()]).toEqual([...scores.readSync()]);
    expect(() => poolKeyScores(scores, { kernelSize: 4, mode: 'max' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => poolKeyScores(scores, { kernelSize: 3, mode: 'median' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });

  it('reduceQueryGroups aggregates each KV head group', () => {
    const stat = tensor([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
    expect([...reduceQueryGroups(stat, 2, 'sum').readSync()]).toEqual([4, 6, 12, 14]);
    expect([...reduceQueryGroups(stat, 2, 'max').readSync()]).toEqual([3, 4, 7, 8]);
    expect([...reduceQueryGroups(stat, 2, 'mean').readSync()]).toEqual([2, 3, 6, 7]);
    expect(() => reduceQueryGroups(stat, 3, 'mean')).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
  });
});
