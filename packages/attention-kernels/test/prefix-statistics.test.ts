// Per-key statistics of prefixSharedAttention (CPU kernel) against independent references on each
// request's full, unshared key sequence: tensor-core's reference attention with statistics, and
// the softmax probabilities from the definition (test/helpers/reference.ts) for what it lacks
// (windows of queries, decay, weights, probability rows, visible-query counts).
import { attention, type Rng, type Tensor, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { batchedPagedAttention, type KeyStatistics, PrefixKVTree, prefixSharedAttention, type PrefixSharedAttentionOptions, type StatisticsOptions } from '../src/index.js';
import { appendTokens, D, KV, kvOf, randomTokens, type Request } from './helpers/prefix-requests.js';
import { i32, probabilities } from './helpers/reference.js';

type Sharing = 'nothing shared' | 'all share one prompt' | 'nested and partial sharing';

/** Prompts of a batch for each sharing pattern (chunks of C tokens; only full chunks are shared). */
function prompts(rng: Rng, sharing: Sharing, C: number): Int32Array[] {
  const tokens = (n: number) => [...randomTokens(rng, n)];
  if (sharing === 'nothing shared') return [tokens(2 * C + 1), tokens(C - 1), tokens(3 * C), tokens(1)].map((p) => Int32Array.from(p));
  if (sharing === 'all share one prompt') {
    const prompt = tokens(3 * C + 2);
    return [0, 1, 2].map(() => Int32Array.from(prompt));
  }
  const common = tokens(3 * C + 1);
  const branch = tokens(C + 2);
  return [[...common, ...branch, ...tokens(3)], [...common, ...branch, ...tokens(C + 1)], [...common, ...tokens(2)], common.slice(0, C), tokens(C + 3)].map((p) => Int32Array.from(p));
}

/** A tree holding the batch's prompts plus 1–3 decode tokens each. */
function batchOf(rng: Rng, sharing: Sharing, C: number): { tree: PrefixKVTree; reqs: Request[] } {
  const tree = new PrefixKVTree({ kvHeads: KV, headDim: D, chunkSize: C, dtype: 'f32' });
  const reqs = prompts(rng, sharing, C).map((prompt) => {
    const r: Request = { seq: tree.openSequence(), tokens: [], positions: [] };
    appendTokens(r, prompt);
    return r;
  });
  for (const r of reqs) appendTokens(r, randomTokens(rng, 1 + rng.int(3)));
  const shared = reqs.map((r) => r.seq.sharedTokens);
  if (sharing === 'nothing shared') expect(shared.every((s) => s === 0)).toBe(true);
  else if (sharing === 'all share one prompt') expect(shared.every((s) => s === 3 * C)).toBe(true);
  else expect(new Set(shared).size).toBeGreaterThan(2); // 3-way, 2-way and 1-chunk sharing
  return { tree, reqs };
}

/** Request b's queries [qHeads, m, D] and their positions, from the batch's q [B, qHeads, m, D]. */
function requestQueries(q: Tensor, qPos: Int32Array, b: number): [Tensor, Int32Array] {
  const [, qHeads, m] = q.shape;
  const per = qHeads * m * D;
  return [tensor((q.readSync() as Float32Array).slice(b * per, (b + 1) * per), [qHeads, m, D]), qPos.slice(b * m, (b + 1) * m)];
}

/** Row b of statistics [B, rows, L] cut to the request's n keys, and whether the rest is zero. */
function requestRows(stat: Tensor, b: number, n: number): { rows: Float32Array; zeroTail: boolean } {
  const [, rows, L] = stat.shape;
  const all = stat.readSync() as Float32Array;
  const out = new Float32Array(rows * n);
  let zeroTail = true;
  for (let r = 0; r < rows; r++) {
    const base = (b * rows + r) * L;
    out.set(all.subarray(base, base + n), r * n);
    for (let j = n; j < L; j++) if (all[base + j] !== 0) zeroTail = false;
  }
  return { rows: out, zeroTail };
}

/** Checks the batch's statistics against the definition on each request's own K/V (window, weights, rows, counts). */
function checkAgainstDefinition(stats: KeyStatistics, q: Tensor, qPos: Int32Array, reqs: Request[], options: PrefixSharedAttentionOptions & { statistics: StatisticsOptions }) {
  const [, qHeads, m] = q.shape;
  const group = qHeads / KV;
  const o = options.statistics;
  const first = o.window ? Math.max(0, m - o.window) : 0;
  const weight = (i: number) => (o.weights ? o.weights[i - first] : (o.decay ?? 1) ** (m - 1 - i));
  const probRows = o.rowProbabilities ?? 0;
  reqs.forEach((r, b) => {
    const n = r.tokens.length;
    const [qb, qp] = requestQueries(q, qPos, b);
    const kPos = Int32Array.from(r.positions);
    const p = probabilities(qb, kvOf(r.tokens, r.positions, 0).k, { qPos: qp, kPos, causal: options.causal, window: options.window, softcap: options.softcap });
    const keySum = new Float64Array(qHeads * n);
    const keyMax = new Float64Array(qHeads * n);
    const rows = new Float64Array(qHeads * probRows * n);
    const count = new Float64Array(KV * n);
    for (let h = 0; h < qHeads; h++) {
      for (let i = first; i < m; i++) {
        for (let j = 0; j < n; j++) {
          keySum[h * n + j] += weight(i) * p[h][i][j];
          keyMax[h * n + j] = Math.max(keyMax[h * n + j], p[h][i][j]);
          if (i >= m - probRows) rows[(h * probRows + i - (m - probRows)) * n + j] = p[h][i][j];
          const visible = (options.causal === false || kPos[j] <= qp[i]) && (!options.window || qp[i] - kPos[j] < options.window);
          if (h % group === 0 && visible) count[(h / group) * n + j] += 1;
        }
      }
    }
    for (const [name, expected] of [['keySum', keySum], ['keyMax', keyMax], ['queryCount', count]] as const) {
      const got = requestRows(stats[name], b, n);
      assertClose(got.rows, expected, 1e-5, `${name} of request ${b}`);
      expect(got.zeroTail).toBe(true);
    }
    if (probRows > 0) {
      const [, , r2, L] = (stats.rowProbabilities as Tensor).shape;
      expect(r2).toBe(probRows);
      const got = requestRows(tensor((stats.rowProbabilities as Tensor).readSync(), [reqs.length, qHeads * probRows, L]), b, n);
      assertClose(got.rows, rows, 1e-5, `rowProbabilities of request ${b}`);
      expect(got.zeroTail).toBe(true);
    }
  });
}

describe('prefixSharedAttention statistics (CPU)', () => {
  for (const sharing of ['nothing shared', 'all share one prompt', 'nested and partial sharing'] as const) {
    it(`${sharing}: keySum/keyMax [B, H, L] equal the reference attention over each request's full keys (GQA 1 and 4, causal and not)`, () =>
      withSeed((rng) => {
        for (const [group, causal] of [[1, true], [4, false]] as const) {
          const C = 4;
          const { tree, reqs } = batchOf(rng, sharing, C);
          const m = 2;
          const q = tensor(Float32Array.from({ length: reqs.length * KV * group * m * D }, () => rng.normal()), [reqs.length, KV * group, m, D]);
          const qPos = Int32Array.from(reqs.flatMap((r) => [r.positions.length - 2, r.positions.length - 1]));
          const got = prefixSharedAttention(q, reqs.map((r) => r.seq), { queryPositions: qPos, causal, statistics: true, returnLse: true, tileSize: 3 });
          const L = Math.max(...reqs.map((r) => r.tokens.length));
          expect(got.statistics!.keySum.shape).toEqual([reqs.length, KV * group, L]);
          expect(got.statistics!.keyMax.shape).toEqual([reqs.length, KV * group, L]);
          expect(got.statistics!.queryCount.shape).toEqual([reqs.length, KV, L]);
          expect(got.lse!.shape).toEqual([reqs.length, KV * group, m]);
          const out = got.output.readSync();
          const per = KV * group * m * D;
          reqs.forEach((r, b) => {
            const [qb, qp] = requestQueries(q, qPos, b);
            const { k, v } = kvOf(r.tokens, r.positions, 0);
            const ref = attention(qb, k, v, { causal, queryPositions: i32(qp), keyPositions: i32(Int32Array.from(r.positions)), statistics: true });
            const label = `${sharing}, request ${b}, group ${group}, causal ${causal}`;
            assertClose(out.subarray(b * per, (b + 1) * per), ref.output.readSync(), 1e-5, `output, ${label}`);
            for (const part of ['keySum', 'keyMax'] as const) {
              const mine = requestRows(got.statistics![part], b, r.tokens.length);
              assertClose(mine.rows, ref.statistics![part].readSync(), 1e-5, `${part}, ${label}`);
              expect(mine.zeroTail).toBe(true);
            }
          });
          for (const r of reqs) r.seq.release();
          expect(tree.chunkCount).toBe(0);
        }
      }));
  }

  it('observation window, decay, weights, probability rows and visible-query counts match the definition; sliding window + soft-cap; same as batched paged attention', () =>
    withSeed((rng) => {
      const { reqs } = batchOf(rng, 'nested and partial sharing', 5);
      const m = 3;
      const group = 2;
      const q = tensor(Float32Array.from({ length: reqs.length * KV * group * m * D }, () => rng.normal()), [reqs.length, KV * group, m, D]);
      const qPos = Int32Array.from(reqs.flatMap((r) => [0, 1, 2].map((i) => r.positions.length - m + i)));
      const cases: (PrefixSharedAttentionOptions & { statistics: StatisticsOptions })[] = [
        { queryPositions: qPos, statistics: { window: 2, decay: 0.8, rowProbabilities: 2 }, window: 9, softcap: 4 },
        { queryPositions: qPos, statistics: { weights: [0.5, 0.25, 2], rowProbabilities: 1 }, causal: false },
        { queryPositions: qPos, statistics: { window: 1 } },
      ];
      for (const options of cases) {
        const seqs = reqs.map((r) => r.seq);
        const got = prefixSharedAttention(q, seqs, { ...options, tileSize: 4 });
        checkAgainstDefinition(got.statistics!, q, qPos, reqs, options);
        const paged = batchedPagedAttention(q, seqs, options);
        for (const part of ['keySum', 'keyMax', 'queryCount'] as const) assertClose(got.statistics![part].readSync(), paged.statistics![part].readSync(), 1e-6, part);
      }
    }));

  it('bad statistics options raise typed errors and leave the tree untouched', () =>
    withSeed((rng) => {
      const { tree, reqs } = batchOf(rng, 'all share one prompt', 4);
      const m = 2;
      const q = tensor(Float32Array.from({ length: reqs.length * KV * m * D }, () => rng.normal()), [reqs.length, KV, m, D]);
      const qPos = Int32Array.from(reqs.flatMap((r) => [r.positions.length - 2, r.positions.length - 1]));
      const seqs = reqs.map((r) => r.seq);
      const before = { chunks: tree.chunkCount, pages: tree.pool.pagesInUse, lengths: seqs.map((s) => s.length) };
      const call = (statistics: StatisticsOptions) => () => prefixSharedAttention(q, seqs, { queryPositions: qPos, statistics });
      expect(call({ weights: [1, 2, 3] })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' })); // 3 weights for 2 queries
      expect(call({ rowProbabilities: 3 })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      expect(call({ decay: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(call({ window: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(call({ weights: [1, 1], decay: 0.5 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect({ chunks: tree.chunkCount, pages: tree.pool.pagesInUse, lengths: seqs.map((s) => s.length) }).toEqual(before);
    }));
});
