import { decodeAttention } from '@kvkit/attention-kernels';
import { attention, tensor } from '@kvkit/tensor-core';
import { assertClose, referenceLogSumExp, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { attendHeads, type HeadKeys } from '../src/index.js';
import { backend, f32, positions, randomArray, referenceAttention } from './helpers.js';

const d = 8;

function head(keys: Float32Array, values: Float32Array, pos: Int32Array, logWeights?: Float32Array): HeadKeys {
  const n = pos.length;
  return { keys: tensor(keys, [1, n, d], { backend }), values: tensor(values, [1, n, d], { backend }), positions: pos, ...(logWeights ? { logWeights } : {}) };
}

describe('attendHeads (the attention seam)', () => {
  it('attends each KV head over its own ragged keys (GQA) like the float64 definition', () =>
    withSeed((rng) => {
      const qHeads = 4;
      const m = 3;
      const ns = [7, 4];
      const hostHeads = ns.map((n, h) => ({
        keys: randomArray(rng, n * d),
        values: randomArray(rng, n * d),
        positions: Int32Array.from({ length: n }, (_, j) => j * (h + 1)),
      }));
      const q = randomArray(rng, qHeads * m * d);
      const qPos = Int32Array.of(5, 6, 8);
      const result = attendHeads(tensor(q, [qHeads, m, d], { backend }), hostHeads.map((h) => head(h.keys, h.values, h.positions)), { positions: qPos, statistics: true });
      const ref = referenceAttention(q, qHeads, m, d, hostHeads, qPos);
      assertClose(f32(result.output), ref.output, 1e-5, 'output');
      // Statistics per KV head: [group, n], Σ and max over the queries.
      for (let h = 0; h < 2; h++) {
        for (let g = 0; g < 2; g++) {
          const rows = ref.probabilities[h * 2 + g];
          const sum = rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0));
          const max = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j])));
          assertClose(result.statistics![h].keySum.subarray(g * ns[h], (g + 1) * ns[h]), sum, 1e-5, 'keySum');
          assertClose(result.statistics![h].keyMax.subarray(g * ns[h], (g + 1) * ns[h]), max, 1e-5, 'keyMax');
        }
      }
    }));

  it("returns each row's log-sum-exp over its own head's keys when asked (decode and flash paths, a window included)", () =>
    withSeed((rng) => {
      const [qHeads, group] = [4, 2];
      const ns = [13, 6];
      // Each head keeps its own tokens: positions with gaps of 2 and of 3.
      const hostHeads = ns.map((n, h) => ({ keys: randomArray(rng, n * d), values: randomArray(rng, n * d), positions: Int32Array.from({ length: n }, (_, j) => j * (h + 2)) }));
      for (const [m, window] of [[3, undefined], [12, 5]] as const) {
        const q = randomArray(rng, qHeads * m * d);
        const last = Math.max(...hostHeads.map((h) => h.positions[h.positions.length - 1]));
        const qPos = Int32Array.from({ length: m }, (_, i) => last - m + 1 + i);
        const heads = hostHeads.map((h) => head(h.keys, h.values, h.positions));
        const result = attendHeads(tensor(q, [qHeads, m, d], { backend }), heads, { positions: qPos, returnLse: true, ...(window ? { window } : {}) });
        expect(result.lse!.shape).toEqual([qHeads, m]);
        const lse = f32(result.lse!);
        hostHeads.forEach((h, kv) => {
          const qGroup = q.subarray(kv * group * m * d, (kv + 1) * group * m * d);
          const expected = referenceLogSumExp(qGroup, h.keys, { qHeads: group, kvHeads: 1, m, n: ns[kv], d }, qPos, h.positions, { window });
          assertClose(lse.subarray(kv * group * m, (kv + 1) * group * m), expected, 1e-5, `lse of KV head ${kv}, ${m} queries`);
        });
        expect(attendHeads(tensor(q, [qHeads, m, d], { backend }), heads, { positions: qPos }).lse).toBeUndefined();
      }
    }));

  it('is bit-identical to the dense kernel when all heads hold the same tokens', () =>
    withSeed((rng) => {
      const n = 9;
      const k = randomArray(rng, 2 * n * d);
      const v = randomArray(rng, 2 * n * d);
      const q = randomArray(rng, 4 * 2 * d);
      const qt = tensor(q, [4, 2, d], { backend, dtype: 'f16' });
      const kt = tensor(k, [2, n, d], { backend, dtype: 'f16' });
      const vt = tensor(v, [2, n, d], { backend, dtype: 'f16' });
      const dense = attention(qt, kt, vt, { queryPositions: tensor(Int32Array.of(7, 8), [2], { backend, dtype: 'i32' }), keyPositions: tensor(positions(0, n), [n], { backend, dtype: 'i32' }) });
      const heads = [0, 1].map((h) => head(f32(kt).subarray(h * n * d, (h + 1) * n * d), f32(vt).subarray(h * n * d, (h + 1) * n * d), positions(0, n)));
      const f16Heads = heads.map((x) => ({ ...x, keys: tensor(f32(x.keys), [1, n, d], { backend, dtype: 'f16' }), values: tensor(f32(x.values), [1, n, d], { backend, dtype: 'f16' }) }));
      const ours = attendHeads(qt, f16Heads, { positions: Int32Array.of(7, 8) });
      // The same kernel over the dense GQA tensors: the same arithmetic, so the same bits.
      const kernel = decodeAttention(qt, kt, vt, { queryPositions: Int32Array.of(7, 8), keyPositions: positions(0, n) });
      expect([...ours.output.readSync()]).toEqual([...kernel.output.readSync()]);
      // And the float64 reference, up to the f16 rounding of the output.
      assertClose(f32(ours.output), f32(dense.output), 1e-2, 'vs reference attention');
    }));

  it('weighs a key with log weight log c as c copies of it', () =>
    withSeed((rng) => {
      const n = 5;
      const keys = randomArray(rng, n * d);
      const values = randomArray(rng, n * d);
      const q = randomArray(rng, 2 * 2 * d);
      const logWeights = Float32Array.of(0, 0, Math.log(7), 0, 0);
      const qPos = Int32Array.of(3, 4);
      const result = attendHeads(tensor(q, [2, 2, d], { backend }), [head(keys, values, positions(0, n), logWeights)], { positions: qPos, statistics: true });
      const ref = referenceAttention(q, 2, 2, d, [{ keys, values, positions: positions(0, n), logWeights }], qPos);
      assertClose(f32(result.output), ref.output, 1e-5, 'weighted output');
      // The same as 7 literal copies of key 2.
      const copies = [0, 1, ...Array(7).fill(2), 3, 4] as number[];
      const expanded = {
        keys: Float32Array.from(copies.flatMap((j) => [...keys.subarray(j * d, (j + 1) * d)])),
        values: Float32Array.from(copies.flatMap((j) => [...values.subarray(j * d, (j + 1) * d)])),
        positions: Int32Array.from(copies),
      };
      assertClose(f32(result.output), referenceAttention(q, 2, 2, d, [expanded], qPos).output, 1e-5, 'copies');
    }));

  it('observes the last rows with row weights and returns single rows on request', () =>
    withSeed((rng) => {
      const n = 6;
      const m = 4;
      const keys = randomArray(rng, n * d);
      const values = randomArray(rng, n * d);
      const q = randomArray(rng, 2 * m * d);
      const qPos = positions(2, m);
      const weights = Float64Array.of(0.25, 0.5, 1);
      const result = attendHeads(tensor(q, [2, m, d], { backend }), [head(keys, values, positions(0, n))], {
        positions: qPos,
        observe: { rows: 3, rowWeights: weights, perRow: 2 },
      });
      const ref = referenceAttention(q, 2, m, d, [{ keys, values, positions: positions(0, n) }], qPos);
      const obs = result.observations![0];
      expect(obs.rows).toBe(3);
      for (let g = 0; g < 2; g++) {
        const rows = ref.probabilities[g];
        const expected = rows[0].map((_, j) => weights[0] * rows[1][j] + weights[1] * rows[2][j] + weights[2] * rows[3][j]);
        assertClose(obs.sum.subarray(g * n, (g + 1) * n), expected, 1e-5, 'weighted sum');
        assertClose(obs.perRow!.subarray((g * 2 + 0) * n, (g * 2 + 1) * n), rows[2], 1e-5, 'row m-2');
        assertClose(obs.perRow!.subarray((g * 2 + 1) * n, (g * 2 + 2) * n), rows[3], 1e-5, 'row m-1');
      }
      assertClose(f32(result.output), ref.output, 1e-5, 'output');
    }));

  it('scales the fused sums when every observed row has the same weight', () =>
    withSeed((rng) => {
      const n = 6;
      const keys = randomArray(rng, n * d);
      const values = randomArray(rng, n * d);
      const q = randomArray(rng, 2 * 3 * d);
      const qPos = positions(3, 3);
      const result = attendHeads(tensor(q, [2, 3, d], { backend }), [head(keys, values, positions(0, n))], { positions: qPos, observe: { rows: 2, rowWeights: Float64Array.of(0.5, 0.5) } });
      const rows = referenceAttention(q, 2, 3, d, [{ keys, values, positions: positions(0, n) }], qPos).probabilities[0];
      assertClose(result.observations![0].sum.subarray(0, n), rows[0].map((_, j) => 0.5 * (rows[1][j] + rows[2][j])), 1e-5, 'half-weighted sum');
    }));

  it('observes an unweighted suffix through the fused kernel', () =>
    withSeed((rng) => {
      const n = 6;
      const keys = randomArray(rng, n * d);
      const values = randomArray(rng, n * d);
      const q = randomArray(rng, 2 * 4 * d);
      const qPos = positions(2, 4);
      const result = attendHeads(tensor(q, [2, 4, d], { backend }), [head(keys, values, positions(0, n))], { positions: qPos, observe: { rows: 2 }, statistics: true });
      const ref = referenceAttention(q, 2, 4, d, [{ keys, values, positions: positions(0, n) }], qPos);
      const rows = ref.probabilities[1];
      assertClose(result.observations![0].sum.subarray(n, 2 * n), rows[0].map((_, j) => rows[2][j] + rows[3][j]), 1e-5, 'suffix sum');
      assertClose(result.statistics![0].keySum.subarray(n, 2 * n), rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0)), 1e-5, 'all-row sum');
      assertClose(f32(result.output), ref.output, 1e-5, 'output');
    }));
});
