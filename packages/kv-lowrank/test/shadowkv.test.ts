import { type Tensor, createCache, rope, slice, tensor } from '@kvkit/tensor-core';
import { asAsynchronousBackend, assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { fitCskv, fitProjections, shadowKV } from '../src/index.js';
import { backend, positions, randomOrthonormal, randomTensor, referenceAttention, rowsInSubspaces, specOf, syntheticCalibration } from './helpers.js';

const spec = specOf({ numLayers: 1 });
const rotate = (k: Tensor, pos: Int32Array) => rope(k, tensor(pos, [pos.length], { dtype: 'i32', backend }), tensor(spec.rope.invFreq, [4], { backend })).readFloat32Sync();

/** Keys of all heads concatenated (16 numbers per token) in one 5-dimensional subspace, heads-first. */
function subspaceKeys(rng: Parameters<typeof randomOrthonormal>[0], n: number): Float32Array {
  const joint = rowsInSubspaces(rng, [randomOrthonormal(rng, 16, 5)], n); // [1, n, 16]
  const out = new Float32Array(2 * n * 8);
  for (let t = 0; t < n; t++) for (let h = 0; h < 2; h++) for (let c = 0; c < 8; c++) out[(h * n + t) * 8 + c] = joint[t * 16 + h * 8 + c];
  return out;
}

describe('shadowkv', () => {
  it('with the whole budget, a per-sequence SVD of rank r is exact on keys of rank r, in prefill and decode', () =>
    withSeed((rng) => {
      const layer = createCache(spec, shadowKV({ rank: 5, chunk: 4, budget: 1000, outliers: 1, window: 4, dtype: 'f32' })).layers[0];
      const n = 30;
      const k = subspaceKeys(rng, n + 3);
      const v = randomTensor(rng, [2, n + 3, 8]).readFloat32Sync();
      const headSlice = (x: Float32Array, start: number, count: number) =>
        Float32Array.from({ length: 2 * count * 8 }, (_, i) => x[(Math.floor(i / (count * 8)) * (n + 3) + start + Math.floor((i % (count * 8)) / 8)) * 8 + (i % 8)]);
      layer.append(tensor(headSlice(k, 0, n), [2, n, 8], { backend }), tensor(headSlice(v, 0, n), [2, n, 8], { backend }), { positions: positions(0, n), phase: 'prefill' });
      expect(layer.memory().parts.projections).toBe(16 * 5 * 4);
      for (let t = n; t < n + 3; t++) {
        layer.append(tensor(headSlice(k, t, 1), [2, 1, 8], { backend }), tensor(headSlice(v, t, 1), [2, 1, 8], { backend }), { positions: positions(t, 1), phase: 'decode' });
        const seen = t + 1;
        const keys = rotate(tensor(headSlice(k, 0, seen), [2, seen, 8], { backend }), positions(0, seen));
        const q = randomTensor(rng, [4, 1, 8]);
        const ref = referenceAttention(q, keys, headSlice(v, 0, seen), 2, positions(t, 1), positions(0, seen)).output;
        assertClose(layer.attend(q, { positions: positions(t, 1) }).output.readSync(), ref.readSync(), 1e-5, `decode ${t}`);
      }
      const q = randomTensor(rng, [4, 3, 8]);
      const keys = rotate(tensor(headSlice(k, 0, n + 3), [2, n + 3, 8], { backend }), positions(0, n + 3));
      const ref = referenceAttention(q, keys, headSlice(v, 0, n + 3), 2, positions(n, 3), positions(0, n + 3)).output;
      assertClose(layer.attend(q, { positions: positions(n, 3) }).output.readSync(), ref.readSync(), 1e-5, 'multi-token queries');
    }));

  it('attends only to the chunks whose landmarks score best, the outlier chunk and the window', () =>
    withSeed((rng) => {
      const [chunk, budget, outliers, window] = [4, 8, 1, 4];
      const layer = createCache(spec, shadowKV({ rank: 16, chunk, budget, outliers, window, dtype: 'f32' })).layers[0];
      const n = 36;
      const k = randomTensor(rng, [2, n, 8]);
      const v = randomTensor(rng, [2, n, 8]);
      layer.append(k, v, { positions: positions(0, n), phase: 'prefill' });
      const q = randomTensor(rng, [4, 1, 8], 2);
      const got = layer.attend(q, { positions: positions(n, 1), statistics: true });
      const post = rotate(k, positions(0, n));
      const values = v.readFloat32Sync();
      const qd = q.readFloat32Sync();
      const chunks = (n - window) / chunk;
      for (let h = 0; h < 2; h++) {
        const key = (t: number, i: number) => post[(h * n + t) * 8 + i];
        const landmarks = Array.from({ length: chunks }, (_, c) => Array.from({ length: 8 }, (_, i) => [0, 1, 2, 3].reduce((s, j) => s + key(c * chunk + j, i), 0) / chunk));
        const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);
        const worst = landmarks.map((l, c) => Math.min(...[0, 1, 2, 3].map((j) => cosine(Array.from({ length: 8 }, (_, i) => key(c * chunk + j, i)), l))));
        const outlier = worst.indexOf(Math.min(...worst));
        const score = landmarks.map((l) => Math.max(...[0, 1].map((g) => l.reduce((s, x, i) => s + x * qd[(2 * h + g) * 8 + i], 0))));
        const selected = landmarks
          .map((_, c) => c)
          .filter((c) => c !== outlier)
          .sort((a, b) => score[b] - score[a])
          .slice(0, budget / chunk);
        const tokens = [...selected, outlier].flatMap((c) => [0, 1, 2, 3].map((j) => c * chunk + j)).concat([32, 33, 34, 35]);
        const pick = (data: ArrayLike<number>) => tokens.flatMap((t) => Array.from({ length: 8 }, (_, i) => data[(h * n + t) * 8 + i]));
        const qh = slice(q, [2 * h, 0, 0], [2 * h + 2, 1, 8]);
        const ref = referenceAttention(qh, pick(post), pick(values), 1, positions(n, 1), Int32Array.from(tokens), { statistics: true });
        assertClose(got.output.readSync().subarray(h * 16, (h + 1) * 16), ref.output.readSync(), 1e-5, `head ${h}`);
        const sums = got.statistics!.keySum.readSync();
        const refSums = ref.statistics!.keySum.readSync();
        for (let g = 0; g < 2; g++) {
          for (let t = 0; t < n; t++) {
            const at = tokens.indexOf(t);
            expect(sums[(2 * h + g) * n + t]).toBeCloseTo(at < 0 ? 0 : refSums[g * tokens.length + at], 6);
          }
        }
      }
    }));

  it('counts latents, whole values, landmarks, outliers, window and basis', () =>
    withSeed((rng) => {
      const layer = createCache(spec, shadowKV({ rank: 6, chunk: 4, budget: 8, outliers: 2, window: 4, initialCapacity: 64 })).layers[0];
      layer.append(randomTensor(rng, [2, 30, 8]), randomTensor(rng, [2, 30, 8]), { positions: positions(0, 30), phase: 'prefill' });
      // 30 tokens: 24 folded (6 chunks), 6 stay in the window (fewer than window + chunk).
      expect(layer.length).toBe(30);
      const parts = layer.memory().parts;
      expect(parts).toMatchObject({
        latents: 24 * 6 * 2,
        values: 24 * 2 * 8 * 2,
        landmarks: 6 * 2 * 8 * 2,
        outliers: 2 * 2 * 4 * 8 * 2,
        window: 6 * 2 * 2 * 8 * 2,
        positions: 24 * 8 + 6 * 4,
        projections: 16 * 6 * 4,
      });
    }));

  it('uses a calibrated basis when given, and refuses bad options', () =>
    withSeed((rng) => {
      const { set } = syntheticCalibration(rng, spec, 40, 3);
      const projections = fitCskv(set);
      const layer = createCache(spec, shadowKV({ projections, rank: 8, chunk: 2, window: 2 })).layers[0];
      layer.append(randomTensor(rng, [2, 5, 8]), randomTensor(rng, [2, 5, 8]), { positions: positions(0, 5), phase: 'prefill' });
      // 5 tokens, window 2, chunks of 2: one chunk folds at once (no waiting for `rank` tokens with a given basis).
      expect(layer.memory().parts.latents).toBe(2 * 8 * 2);
      expect(layer.memory().parts.projections).toBe(16 * 8 * 4);
      const bad: [() => unknown, string][] = [
        [() => shadowKV({ chunk: 0 }), 'INVALID_CONFIG'],
        [() => shadowKV({ budget: -1 }), 'INVALID_CONFIG'],
        [() => shadowKV({ outliers: 1.5 }), 'INVALID_CONFIG'],
        [() => shadowKV({ window: -2 }), 'INVALID_CONFIG'],
        [() => shadowKV({ dtype: 'i8' as 'f16' }), 'INVALID_CONFIG'],
        [() => shadowKV({ rank: 4, ratio: 0.5 }), 'INVALID_CONFIG'],
        [() => shadowKV({ ratio: 2 }), 'INVALID_CONFIG'],
        [() => shadowKV({ initialCapacity: 0 }), 'INVALID_CONFIG'],
        [() => shadowKV({ projections: fitProjections(set) }), 'INVALID_CONFIG'],
        [() => createCache(spec, shadowKV({ rank: 17 })), 'INVALID_CONFIG'],
        [() => createCache(spec, shadowKV({ projections, rank: 17 })), 'INVALID_CONFIG'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
    }));

  it('refuses an asynchronous backend when the cache is built: chunks are chosen on the host', () => {
    const onAsync = specOf({ headDim: 16, backend: asAsynchronousBackend(backend, 'gpu-like') });
    expect(() => createCache(onAsync, shadowKV({ rank: 5, chunk: 4, budget: 1000, outliers: 1, window: 4, dtype: 'f32' }))).toThrow(
      expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/^shadowkv selects chunks .*"gpu-like" is asynchronous/) }),
    );
  });
});
