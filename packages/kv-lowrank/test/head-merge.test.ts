import { type CacheSpec, type Matrix, type RopeLayout, createCache, rope, ropeInverseFrequencies, tensor } from '@kvkit/tensor-core';
import { assertClose, relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KVCalibrationSet, convertHeadMerge, fitHeadMerge, fitProjections, headMerge } from '../src/index.js';
import { backend, positions, randomMatrix, randomTensor, randomValues, referenceAttention, specOf } from './helpers.js';

/** x W_rowsᵀ for hidden states [n, hidden] → heads-first [heads, n, d] (float64 loops). */
function linearHeads(hidden: Float32Array, n: number, w: Matrix, d: number): Float32Array {
  const heads = w.rows / d;
  const out = new Float32Array(heads * n * d);
  for (let r = 0; r < w.rows; r++) {
    for (let t = 0; t < n; t++) {
      let s = 0;
      for (let c = 0; c < w.cols; c++) s += w.data[r * w.cols + c] * hidden[t * w.cols + c];
      out[(Math.floor(r / d) * n + t) * d + (r % d)] = s;
    }
  }
  return out;
}

function rotate(spec: CacheSpec, data: Float32Array, heads: number, pos: Int32Array): Float32Array {
  const d = spec.headDim;
  return rope(tensor(data, [heads, pos.length, d], { backend }), tensor(pos, [pos.length], { dtype: 'i32', backend }), tensor(spec.rope.invFreq, [spec.rope.invFreq.length], { backend }), spec.rope.layout).readFloat32Sync();
}

function ropeSpec(layout: RopeLayout, rotary: number): CacheSpec {
  return specOf({ numLayers: 1, kvHeads: 4, qHeads: 8, rope: { invFreq: ropeInverseFrequencies(rotary, 10000), layout } });
}

/** A calibration set whose KV heads come in identical pairs. */
function copiedHeads(rng: Parameters<typeof randomTensor>[0], spec: CacheSpec, n: number): { set: KVCalibrationSet; copy: (x: Float32Array, count: number) => Float32Array } {
  const copy = (x: Float32Array, count: number) => {
    const out = new Float32Array(4 * count * 8);
    for (let h = 0; h < 4; h++) out.set(x.subarray((h - (h % 2)) * count * 8, (h - (h % 2) + 1) * count * 8), h * count * 8);
    return out;
  };
  const set = new KVCalibrationSet({ ...spec, maxTokens: n, rope: spec.rope });
  const pre = copy(randomValues(rng, 4 * n * 8), n);
  set.add({
    layerIndex: 0,
    keyPreRope: tensor(pre, [4, n, 8], { backend }),
    key: tensor(rotate(spec, pre, 4, positions(0, n)), [4, n, 8], { backend }),
    value: tensor(copy(randomValues(rng, 4 * n * 8), n), [4, n, 8], { backend }),
  });
  return { set, copy };
}

describe('KV-head merging', () => {
  for (const [layout, rotary] of [['half', 8], ['interleaved', 8], ['half', 4]] as const) {
    it(`is lossless on heads that are exact copies (${layout} RoPE, rotary dim ${rotary}) and halves the cache`, () =>
      withSeed((rng) => {
        const spec = ropeSpec(layout, rotary);
        const { set, copy } = copiedHeads(rng, spec, 40);
        const projections = fitHeadMerge(set, { groupSize: 2 });
        const layer = createCache(spec, headMerge({ projections, storage: { dtype: 'f32' } })).layers[0];
        const n = 10;
        const k = copy(randomValues(rng, 4 * n * 8), n);
        const v = copy(randomValues(rng, 4 * n * 8), n);
        layer.append(tensor(k, [4, n, 8], { backend }), tensor(v, [4, n, 8], { backend }), { positions: positions(0, n), phase: 'prefill' });
        const q = randomTensor(rng, [8, 2, 8]);
        const ref = referenceAttention(q, k, v, 4, positions(n - 2, 2), positions(0, n)).output;
        assertClose(layer.attend(q, { positions: positions(n - 2, 2) }).output.readSync(), ref.readSync(), 1e-5);
        expect(layer.memory().parts.latents).toBe(n * 2 * 2 * 8 * 4);
      }));
  }

  it('the key merge commutes with RoPE (so it folds into W_k), for every layout', () =>
    withSeed((rng) => {
      for (const [layout, rotary] of [['half', 8], ['interleaved', 8], ['interleaved', 6]] as const) {
        const spec = ropeSpec(layout, rotary);
        const n = 30;
        const set = new KVCalibrationSet({ ...spec, maxTokens: n, rope: spec.rope });
        set.add({ layerIndex: 0, keyPreRope: randomTensor(rng, [4, n, 8]), value: randomTensor(rng, [4, n, 8]) });
        const p = fitHeadMerge(set).key.layers[0][1].basis; // 16 × 8, heads 2 and 3
        const x = randomValues(rng, 2 * 5 * 8);
        const pos = Int32Array.of(3, 17, 250, 1000, 4095);
        const merge = (data: Float32Array) =>
          Float32Array.from({ length: 5 * 8 }, (_, i) => {
            const t = Math.floor(i / 8);
            let s = 0;
            for (let r = 0; r < 16; r++) s += p.data[r * 8 + (i % 8)] * data[(Math.floor(r / 8) * 5 + t) * 8 + (r % 8)];
            return s;
          });
        const mergedThenRotated = rotate(spec, merge(x), 1, pos);
        const rotatedThenMerged = merge(rotate(spec, x, 2, pos));
        expect(relativeError(mergedThenRotated, rotatedThenMerged)).toBeLessThan(1e-5);
      }
    }));

  it('folded into the weights, the GQA model computes exactly what the merged cache computes', () =>
    withSeed((rng) => {
      const spec = ropeSpec('half', 8);
      const [hiddenSize, d, n] = [24, 8, 12];
      const weights = { q: randomMatrix(rng, 64, hiddenSize, 0.3), k: randomMatrix(rng, 32, hiddenSize, 0.3), v: randomMatrix(rng, 32, hiddenSize, 0.3), o: randomMatrix(rng, hiddenSize, 64, 0.3) };
      const calib = randomValues(rng, 50 * hiddenSize);
      const set = new KVCalibrationSet({ ...spec, maxTokens: 50, rope: spec.rope });
      set.add({ layerIndex: 0, keyPreRope: tensor(linearHeads(calib, 50, weights.k, d), [4, 50, d], { backend }), value: tensor(linearHeads(calib, 50, weights.v, d), [4, 50, d], { backend }) });
      const projections = fitHeadMerge(set);
      const converted = convertHeadMerge(weights, projections, 0);
      expect(converted.kvHeads).toBe(2);
      const hidden = randomValues(rng, n * hiddenSize);
      const pos = positions(0, n);
      const qPos = positions(n - 3, 3);
      const lastRows = (x: Float32Array, heads: number) => {
        const out = new Float32Array(heads * 3 * d);
        for (let h = 0; h < heads; h++) out.set(x.subarray((h * n + n - 3) * d, (h * n + n) * d), h * 3 * d);
        return out;
      };
      // Output projection: o = W_o · concat over heads of attention outputs [heads, m, d].
      const outProject = (att: Float32Array, o: Matrix) =>
        Float64Array.from({ length: 3 * hiddenSize }, (_, x) => {
          const t = Math.floor(x / hiddenSize);
          const r = x % hiddenSize;
          let s = 0;
          for (let c = 0; c < 64; c++) s += o.data[r * 64 + c] * att[(Math.floor(c / d) * 3 + t) * d + (c % d)];
          return s;
        });
      const q = tensor(lastRows(rotate(spec, linearHeads(hidden, n, weights.q, d), 8, pos), 8), [8, 3, d], { backend });
      const layer = createCache(spec, headMerge({ projections, storage: { dtype: 'f32' } })).layers[0];
      layer.append(tensor(rotate(spec, linearHeads(hidden, n, weights.k, d), 4, pos), [4, n, d], { backend }), tensor(linearHeads(hidden, n, weights.v, d), [4, n, d], { backend }), {
        positions: pos,
        phase: 'prefill',
      });
      const viaCache = outProject(layer.attend(q, { positions: qPos }).output.readFloat32Sync(), weights.o);
      const q2 = tensor(lastRows(rotate(spec, linearHeads(hidden, n, converted.q, d), 8, pos), 8), [8, 3, d], { backend });
      const k2 = rotate(spec, linearHeads(hidden, n, converted.k, d), 2, pos);
      const v2 = linearHeads(hidden, n, converted.v, d);
      const viaWeights = outProject(referenceAttention(q2, k2, v2, 2, qPos, pos).output.readFloat32Sync(), converted.o);
      expect(relativeError(viaWeights, viaCache)).toBeLessThan(1e-5);
    }));

  it('refuses what it cannot merge', () =>
    withSeed((rng) => {
      const spec = ropeSpec('half', 8);
      const { set } = copiedHeads(rng, spec, 20);
      const noRope = new KVCalibrationSet({ numLayers: 1, qHeads: 8, kvHeads: 4, headDim: 8, maxTokens: 4 });
      noRope.add({ layerIndex: 0, key: randomTensor(rng, [4, 4, 8]), value: randomTensor(rng, [4, 4, 8]) });
      const projections = fitHeadMerge(set);
      const w = { q: randomMatrix(rng, 64, 6), k: randomMatrix(rng, 32, 6), v: randomMatrix(rng, 32, 6), o: randomMatrix(rng, 6, 64) };
      const bad: [() => unknown, string][] = [
        [() => fitHeadMerge(noRope), 'INVALID_CONFIG'],
        [() => fitHeadMerge(set, { groupSize: 3 }), 'INVALID_CONFIG'],
        [() => fitHeadMerge(set, { rope: { invFreq: new Float32Array(5), layout: 'half' } }), 'INVALID_CONFIG'],
        [() => headMerge({ projections: fitProjections(set) }), 'INVALID_CONFIG'],
        [() => headMerge(undefined as never), 'INVALID_CONFIG'],
        [() => convertHeadMerge(w, fitProjections(set), 0), 'INVALID_CONFIG'],
        [() => convertHeadMerge(w, projections, 1), 'INVALID_CONFIG'],
        [() => convertHeadMerge({ ...w, o: randomMatrix(rng, 6, 32) }, projections, 0), 'SHAPE_MISMATCH'],
        [() => convertHeadMerge({ ...w, k: randomMatrix(rng, 16, 6) }, projections, 0), 'SHAPE_MISMATCH'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
    }));
});
