import { type Matrix, createCache, rope, svd, tensor, wordsPerRow } from '@kvkit/tensor-core';
import { assertClose, relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KVCalibrationSet, defaultPaluGroup, fitPalu, palu } from '../src/index.js';
import { backend, positions, randomMatrix, randomTensor, referenceAttention, specOf } from './helpers.js';

/** W with its singular values beyond `rank` dropped, via tensor-core's SVD. */
function truncated(w: Matrix, rank: number): Float64Array {
  const { u, s, vt } = svd(w);
  const out = new Float64Array(w.rows * w.cols);
  for (let i = 0; i < w.rows; i++) for (let j = 0; j < w.cols; j++) for (let p = 0; p < rank; p++) out[i * w.cols + j] += u.data[i * u.cols + p] * s[p] * vt.data[p * vt.cols + j];
  return out;
}

/** Rows [start, start + count) of W. */
const rowsOf = (w: Matrix, start: number, count: number): Matrix => ({ rows: count, cols: w.cols, data: w.data.slice(start * w.cols, (start + count) * w.cols) });

/** Heads-first [heads, n, d] projections W·h_t of hidden states h [n, hidden] (float64), W given per group. */
function project(groups: ArrayLike<number>[], groupRows: number, hidden: Float32Array, n: number, hiddenSize: number, d: number): Float32Array {
  const heads = (groups.length * groupRows) / d;
  const out = new Float32Array(heads * n * d);
  groups.forEach((w, g) => {
    for (let r = 0; r < groupRows; r++) {
      const head = g * (groupRows / d) + Math.floor(r / d);
      for (let t = 0; t < n; t++) {
        let s = 0;
        for (let c = 0; c < hiddenSize; c++) s += w[r * hiddenSize + c] * hidden[t * hiddenSize + c];
        out[(head * n + t) * d + (r % d)] = s;
      }
    }
  });
  return out;
}

function setWithWeights(spec: ReturnType<typeof specOf>, wk: Matrix, wv: Matrix): KVCalibrationSet {
  const set = new KVCalibrationSet({ ...spec, maxTokens: 4 });
  for (let l = 0; l < spec.numLayers; l++) {
    const zeros = tensor(new Float32Array(spec.kvHeads * 4 * spec.headDim), [spec.kvHeads, 4, spec.headDim], { backend });
    set.add({ layerIndex: l, value: zeros, keyPreRope: zeros });
    set.setWeights(l, { k: wk, v: wv });
  }
  return set;
}

describe('palu', () => {
  it('caches the latents of W = U·ΣVᵀ and equals attention over keys/values from the rank-r weights, RoPE applied after rebuilding', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 1, kvHeads: 4, qHeads: 8 });
      const d = 8;
      const hiddenSize = 40;
      const wk = randomMatrix(rng, 32, hiddenSize);
      const wv = randomMatrix(rng, 32, hiddenSize);
      const set = setWithWeights(spec, wk, wv);
      const n = 11;
      const hidden = Float32Array.from({ length: n * hiddenSize }, () => rng.normal());
      const kPre = project([wk.data], 32, hidden, n, hiddenSize, d);
      const v = project([wv.data], 32, hidden, n, hiddenSize, d);
      const invFreq = tensor(spec.rope.invFreq, [4], { backend });
      const pos = tensor(positions(0, n), [n], { dtype: 'i32', backend });
      const q = randomTensor(rng, [8, 2, d]);
      for (const [groupSize, rank] of [[1, 8], [2, 16], [4, 32], [2, 5], [4, 11]]) {
        const projections = fitPalu(set, { groupSize });
        const layer = createCache(spec, palu({ projections, rank, dtype: 'f32' })).layers[0];
        expect(layer.keyInput).toBe('pre-rope');
        layer.append(tensor(kPre, [4, n, d], { backend }), tensor(v, [4, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
        const groupRows = groupSize * d;
        const groups = Array.from({ length: 4 / groupSize }, (_, j) => j);
        const kHat = project(groups.map((j) => truncated(rowsOf(wk, j * groupRows, groupRows), rank)), groupRows, hidden, n, hiddenSize, d);
        const vHat = project(groups.map((j) => truncated(rowsOf(wv, j * groupRows, groupRows), rank)), groupRows, hidden, n, hiddenSize, d);
        const kRot = rope(tensor(kHat, [4, n, d], { backend }), pos, invFreq).readFloat32Sync();
        const ref = referenceAttention(q, kRot, vHat, 4, positions(n - 2, 2), positions(0, n)).output;
        assertClose(layer.attend(q, { positions: positions(n - 2, 2) }).output.readSync(), ref.readSync(), 1e-5, `group ${groupSize} rank ${rank}`);
      }
    }));

  it('quantizes Hadamard-rotated latents to 4 bits close to the dense latents, with codes, scales and zeros counted', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 1, kvHeads: 2, qHeads: 4, headDim: 16 });
      const wk = randomMatrix(rng, 32, 48);
      const wv = randomMatrix(rng, 32, 48);
      const projections = fitPalu(setWithWeights(spec, wk, wv), { groupSize: 2 });
      const n = 24;
      const hidden = Float32Array.from({ length: n * 48 }, () => rng.normal());
      const k = tensor(project([wk.data], 32, hidden, n, 48, 16), [2, n, 16], { backend });
      const v = tensor(project([wv.data], 32, hidden, n, 48, 16), [2, n, 16], { backend });
      const q = randomTensor(rng, [4, 1, 16], 0.3);
      const run = (bits?: number, hadamard?: boolean) => {
        const layer = createCache(spec, palu({ projections, rank: 16, dtype: 'f32', bits, hadamard, quantGroup: 8, initialCapacity: 32 })).layers[0];
        layer.append(k, v, { positions: positions(0, n), phase: 'prefill' });
        return { layer, out: layer.attend(q, { positions: positions(n - 1, 1) }).output.readSync() };
      };
      const dense = run();
      const quantized = run(4);
      const err4 = relativeError(quantized.out, dense.out);
      // 15 levels per group of 8 latents: a few percent of noise per key, amplified by the softmax.
      expect(err4).toBeLessThan(0.25);
      expect(err4).toBeGreaterThan(0);
      expect(relativeError(run(8).out, dense.out)).toBeLessThan(err4 / 4);
      const words = wordsPerRow(16, 4, 8);
      expect(quantized.layer.memory().parts).toEqual({
        codes: 2 * n * words * 4,
        scales: 2 * n * 2 * 2,
        zeros: 2 * n * 2 * 2,
        positions: n * 8,
        reserved: 2 * 8 * (words * 4 + 8) + 8 * 8,
        projections: 2 * 32 * 16 * 4,
      });
    }));

  it('groups up to four heads by default and needs W_k/W_v', () =>
    withSeed((rng) => {
      expect([1, 2, 3, 4, 6, 8].map(defaultPaluGroup)).toEqual([1, 2, 3, 4, 3, 4]);
      const set = new KVCalibrationSet({ ...specOf(), maxTokens: 4 });
      set.add({ layerIndex: 0, value: randomTensor(rng, [2, 4, 8]) });
      expect(() => fitPalu(set)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => palu(undefined as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});
