import { type Matrix, type Tensor, createCache, rope, slice, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KVCalibrationSet, convertMha2Mla, fitMha2Mla, mha2mla, mlaRankForRatio } from '../src/index.js';
import { backend, positions, randomMatrix, randomTensor, randomValues, referenceAttention, specOf } from './helpers.js';

const spec = specOf({ numLayers: 1 }); // 2 KV heads, 4 query heads, headDim 8, 4 frequencies ('half': pairs (i, i + 4))

/** RoPE on the given frequency pairs only (the others keep angle 0), through tensor-core's rope. */
function partialRope(x: Tensor, pos: Int32Array, kept: ArrayLike<number>): Tensor {
  const masked = Float32Array.from(spec.rope.invFreq, (f, i) => (Array.from(kept).includes(i) ? f : 0));
  return rope(x, tensor(pos, [pos.length], { dtype: 'i32', backend }), tensor(masked, [4], { backend }));
}

function calibration(rng: Parameters<typeof randomTensor>[0], n = 60, hiddenWeights?: { k: Matrix; v: Matrix; hidden: number }): KVCalibrationSet {
  const set = new KVCalibrationSet({ ...spec, maxTokens: n, rope: spec.rope });
  if (hiddenWeights) {
    set.add({ layerIndex: 0, keyPreRope: randomTensor(rng, [2, n, 8]), value: randomTensor(rng, [2, n, 8]) });
    set.setWeights(0, { k: hiddenWeights.k, v: hiddenWeights.v });
    return set;
  }
  set.add({ layerIndex: 0, keyPreRope: randomTensor(rng, [2, n, 8]), value: randomTensor(rng, [2, n, 8]), q: randomTensor(rng, [4, n, 8]) });
  return set;
}

describe('MHA2MLA', () => {
  it('keeping every frequency and the full latent is exact attention', () =>
    withSeed((rng) => {
      const conversion = fitMha2Mla(calibration(rng), { ropeFrequencies: 4 });
      const layer = createCache(spec, mha2mla({ conversion, rank: 16, storage: { dtype: 'f32' } })).layers[0];
      const k = randomTensor(rng, [2, 9, 8]);
      const v = randomTensor(rng, [2, 9, 8]);
      layer.append(k, v, { positions: positions(0, 9), phase: 'prefill' });
      const q = randomTensor(rng, [4, 2, 8]);
      const keys = partialRope(k, positions(0, 9), [0, 1, 2, 3]).readFloat32Sync();
      const ref = referenceAttention(q, keys, v.readFloat32Sync(), 2, positions(7, 2), positions(0, 9)).output;
      assertClose(layer.attend(q, { positions: positions(7, 2) }).output.readSync(), ref.readSync(), 1e-5);
    }));

  it('with a full latent, equals the partial-RoPE model: kept pairs rotate, the rest do not (per KV head)', () =>
    withSeed((rng) => {
      const conversion = fitMha2Mla(calibration(rng), { ropeFrequencies: 1 });
      const rank = 2 * (8 - 2) + 2 * 8;
      expect(conversion.layers[0].latent.basis.rows).toBe(rank);
      const layer = createCache(spec, mha2mla({ conversion, rank, storage: { dtype: 'f32' } })).layers[0];
      let t = 0;
      const keysPre: Tensor[] = [];
      const values: Tensor[] = [];
      for (const n of [6, 1, 1]) {
        const k = randomTensor(rng, [2, n, 8]);
        const v = randomTensor(rng, [2, n, 8]);
        layer.append(k, v, { positions: positions(t, n), phase: t ? 'decode' : 'prefill' });
        keysPre.push(k);
        values.push(v);
        t += n;
      }
      const qPre = randomTensor(rng, [4, 1, 8]);
      const qPost = rope(qPre, tensor(positions(t - 1, 1), [1], { dtype: 'i32', backend }), tensor(spec.rope.invFreq, [4], { backend }));
      const got = layer.attend(qPost, { positions: positions(t - 1, 1) }).output.readSync();
      for (let h = 0; h < 2; h++) {
        const kept = conversion.layers[0].keptFrequencies[h];
        const headKeys = keysPre.map((k, i) => partialRope(slice(k, [h, 0, 0], [h + 1, k.shape[1], 8]), positions([0, 6, 7][i], k.shape[1]), kept).readFloat32Sync());
        const headValues = values.map((v) => slice(v, [h, 0, 0], [h + 1, v.shape[1], 8]).readFloat32Sync());
        const qh = partialRope(slice(qPre, [2 * h, 0, 0], [2 * h + 2, 1, 8]), positions(t - 1, 1), kept);
        const ref = referenceAttention(qh, headKeys.flatMap((x) => [...x]), headValues.flatMap((x) => [...x]), 1, positions(t - 1, 1), positions(0, t)).output;
        assertClose(got.subarray(h * 16, (h + 1) * 16), ref.readSync(), 1e-5, `head ${h}`);
      }
    }));

  it("picks the pairs by 2-norm (or the highest frequencies), and its weights reproduce the cache's low-rank attention", () =>
    withSeed((rng) => {
      const set = new KVCalibrationSet({ ...spec, maxTokens: 40, rope: spec.rope });
      const keys = randomValues(rng, 2 * 40 * 8);
      for (let i = 0; i < keys.length; i++) if (i % 8 === 2 || i % 8 === 6) keys[i] *= 30; // pair 2 dominates
      set.add({ layerIndex: 0, keyPreRope: tensor(keys, [2, 40, 8], { backend }), value: randomTensor(rng, [2, 40, 8]) });
      expect(Array.from(fitMha2Mla(set, { ropeFrequencies: 1 }).layers[0].keptFrequencies[1])).toEqual([2]);
      expect(Array.from(fitMha2Mla(set, { ropeFrequencies: 2, selection: 'high' }).layers[0].keptFrequencies[0])).toEqual([0, 1]);

      const hiddenSize = 20;
      const w = { k: randomMatrix(rng, 16, hiddenSize), v: randomMatrix(rng, 16, hiddenSize), hidden: hiddenSize };
      const conversion = fitMha2Mla(calibration(rng, 30, w), { ropeFrequencies: 1, source: 'weights' });
      const rank = 9;
      const mla = convertMha2Mla(w, conversion, 0, rank);
      const n = 7;
      const h = randomValues(rng, n * hiddenSize);
      const apply = (m: Matrix) => Float64Array.from({ length: m.rows * n }, (_, x) => {
        const r = Math.floor(x / n);
        const t = x % n;
        let s = 0;
        for (let c = 0; c < m.cols; c++) s += m.data[r * m.cols + c] * h[t * hiddenSize + c];
        return s;
      });
      const kPre = Float32Array.from(apply(w.k)); // [rows, n]
      const v = Float32Array.from(apply(w.v));
      const layer = createCache(spec, mha2mla({ conversion, rank, storage: { dtype: 'f32' } })).layers[0];
      // Heads-first: row r of W·h is head ⌊r/8⌋, channel r mod 8 — rearrange [rows, n] into [heads, n, d].
      const toHeads = (x: Float32Array) => Float32Array.from({ length: 16 * n }, (_, i) => x[((Math.floor(i / (n * 8)) * 8 + (i % 8)) * n) + Math.floor((i % (n * 8)) / 8)]);
      layer.append(tensor(toHeads(kPre), [2, n, 8], { backend }), tensor(toHeads(v), [2, n, 8], { backend }), { positions: positions(0, n), phase: 'prefill' });
      // The converted model: c = W_down h; nope keys = W_up,k c; values = W_up,v c; RoPE channels from W_k rows.
      const latent = apply(mla.down); // [r, n]
      const up = (m: Matrix) => Float32Array.from({ length: 16 * n }, (_, x) => {
        const r = Math.floor(x / n);
        const t = x % n;
        let s = 0;
        for (let j = 0; j < rank; j++) s += m.data[r * rank + j] * latent[j * n + t];
        return s;
      });
      const keysRebuilt = toHeads(up(mla.upKey));
      const valuesRebuilt = toHeads(up(mla.upValue));
      const exactKeys = toHeads(kPre);
      const qPre = randomTensor(rng, [4, 1, 8]);
      const qPost = rope(qPre, tensor(positions(n - 1, 1), [1], { dtype: 'i32', backend }), tensor(spec.rope.invFreq, [4], { backend }));
      const got = layer.attend(qPost, { positions: positions(n - 1, 1) }).output.readSync();
      for (let head = 0; head < 2; head++) {
        const kept = mla.keptFrequencies[head];
        const ropeChannels = new Set(Array.from(kept).flatMap((i) => [i, i + 4]));
        const mixed = Float32Array.from({ length: n * 8 }, (_, x) => (ropeChannels.has(x % 8) ? exactKeys : keysRebuilt)[head * n * 8 + x]);
        const k = partialRope(tensor(mixed, [1, n, 8], { backend }), positions(0, n), kept).readFloat32Sync();
        const qh = partialRope(slice(qPre, [2 * head, 0, 0], [2 * head + 2, 1, 8]), positions(n - 1, 1), kept);
        const ref = referenceAttention(qh, k, valuesRebuilt.subarray(head * n * 8, (head + 1) * n * 8), 1, positions(n - 1, 1), positions(0, n)).output;
        assertClose(got.subarray(head * 16, (head + 1) * 16), ref.readSync(), 1e-5, `head ${head}`);
      }
      // The RoPE rows of the converted W_k are W_k's rows of the kept channels.
      const keptRows = Array.from(mla.keptFrequencies[0]).flatMap((i) => [i, i + 4]);
      expect(Array.from(mla.keyRope.data.subarray(0, hiddenSize))).toEqual(Array.from(w.k.data.subarray(keptRows[0] * hiddenSize, (keptRows[0] + 1) * hiddenSize)));
    }));

  it('sizes the latent from a ratio of the dense cache, and refuses bad input', () =>
    withSeed((rng) => {
      const conversion = fitMha2Mla(calibration(rng), { ropeFrequencies: 1 });
      // 0.5 × (2 × 2 heads × 8) = 16 numbers per token, 2 heads × 2 RoPE channels of them.
      expect(mlaRankForRatio(conversion, 0.5)).toBe(12);
      const layer = createCache(spec, mha2mla({ conversion })).layers[0];
      layer.append(randomTensor(rng, [2, 5, 8]), randomTensor(rng, [2, 5, 8]), { positions: positions(0, 5), phase: 'prefill' });
      expect(layer.memory().parts).toMatchObject({ keys: 5 * 2 * 2 * 2, latents: 5 * 12 * 2 });
      const set = calibration(rng);
      const bad: [() => unknown, string][] = [
        [() => mlaRankForRatio(conversion, 0.1), 'BUDGET_TOO_SMALL'],
        [() => mlaRankForRatio(conversion, 0), 'INVALID_CONFIG'],
        [() => mha2mla({ conversion, rank: 4, ratio: 0.5 }), 'INVALID_CONFIG'],
        [() => mha2mla({ conversion, rank: 0 }), 'INVALID_CONFIG'],
        [() => mha2mla({} as never), 'INVALID_CONFIG'],
        [() => mha2mla({ conversion: { ...conversion, ropeFrequencies: 2 } }), 'INVALID_CONFIG'],
        [() => createCache(specOf({ numLayers: 1, kvHeads: 1, qHeads: 2 }), mha2mla({ conversion })), 'INVALID_CONFIG'],
        [() => createCache({ ...spec, rope: { ...spec.rope, layout: 'interleaved' } }, mha2mla({ conversion })), 'INVALID_CONFIG'],
        [() => fitMha2Mla(set, { ropeFrequencies: 5 }), 'INVALID_CONFIG'],
        [() => fitMha2Mla(set, { selection: 'random' as 'high' }), 'INVALID_CONFIG'],
        [() => fitMha2Mla(set, { source: 'weights' }), 'INVALID_CONFIG'],
        [() => fitMha2Mla(set, { source: 'magic' as 'weights' }), 'INVALID_CONFIG'],
        [() => fitMha2Mla(new KVCalibrationSet({ numLayers: 1, qHeads: 4, kvHeads: 2, headDim: 8 })), 'INVALID_CONFIG'],
        [() => convertMha2Mla({ k: randomMatrix(rng, 16, 4), v: randomMatrix(rng, 16, 4) }, conversion, 0, 99), 'INVALID_CONFIG'],
        [() => convertMha2Mla({ k: randomMatrix(rng, 16, 4) }, conversion, 0, 4), 'INVALID_CONFIG'],
        [() => convertMha2Mla({ k: randomMatrix(rng, 16, 4), v: randomMatrix(rng, 8, 4) }, conversion, 0, 4), 'SHAPE_MISMATCH'],
        [() => convertMha2Mla({ k: randomMatrix(rng, 16, 4), v: randomMatrix(rng, 16, 4) }, conversion, 3, 4), 'INVALID_CONFIG'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
    }));
});
