import { rope as applyRope, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KVCalibration, KVCalibrationCollector } from '../src/index.js';
import { layerSpec, positions, randomArray } from './helpers.js';

const d = 8;
const rope = layerSpec({ headDim: d }).rope;

describe('KVCalibration', () => {
  it('keeps pre-RoPE keys; post-RoPE keys given with the rope are rotated back, and derived again on request', () =>
    withSeed((rng) => {
      const n = 10;
      const pre = randomArray(rng, 2 * n * d);
      const pos = Int32Array.from({ length: n }, (_, i) => 7 * i);
      const a = KVCalibration.fromSamples({ kvHeads: 2, headDim: d, rope, layers: [{ keys: pre, values: pre, positions: pos }] });
      const post = a.keys(0, 'post-rope');
      const b = KVCalibration.fromSamples({
        kvHeads: 2,
        headDim: d,
        rope,
        layers: [{ keys: tensor(post, [2, n, d]), values: pre, positions: pos, keyInput: 'post-rope' }],
      });
      assertClose(b.keys(0, 'pre-rope'), pre, 1e-6, 'inverse RoPE');
      assertClose(b.keys(0, 'post-rope'), post, 1e-6, 'RoPE again');
      // Rotation preserves norms per RoPE pair.
      for (let r = 0; r < 2 * n; r++) {
        for (let i = 0; i < d / 2; i++) {
          const normPre = pre[r * d + i] ** 2 + pre[r * d + i + d / 2] ** 2;
          const normPost = post[r * d + i] ** 2 + post[r * d + i + d / 2] ** 2;
          expect(normPost).toBeCloseTo(normPre, 4);
        }
      }
    }));

  it('toJSON / load round-trips every sample exactly (also through JSON text)', () =>
    withSeed((rng) => {
      const n = 5;
      const c = KVCalibration.fromSamples({
        kvHeads: 1,
        headDim: d,
        qHeads: 2,
        rope,
        layers: [
          undefined,
          { keys: randomArray(rng, n * d), values: randomArray(rng, n * d), positions: positions(3, n), queries: randomArray(rng, 2 * n * d) },
        ],
      });
      const back = KVCalibration.load(JSON.stringify(c.toJSON()));
      expect(back.numLayers).toBe(2);
      expect(back.has(0)).toBe(false);
      expect(back.layer(1)).toEqual(c.layer(1));
      expect(back.rope).toEqual(c.rope);
      expect(back.qHeads).toBe(2);
      expect(() => KVCalibration.load({ format: 'something-else' } as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      const broken = c.toJSON();
      broken.layers[1]!.keys = broken.layers[1]!.keys.slice(0, 16); // 3 floats instead of 40
      expect(() => KVCalibration.load(broken)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      broken.layers[1]!.keys = broken.layers[1]!.keys.slice(0, 8); // 6 bytes: not whole floats
      expect(() => KVCalibration.load(broken)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));

  it('refuses inconsistent samples with typed errors', () =>
    withSeed((rng) => {
      const x = randomArray(rng, 2 * 4 * d);
      expect(() => KVCalibration.fromSamples({ kvHeads: 2, headDim: d, layers: [{ keys: x, values: x, positions: positions(0, 5) }] })).toThrow(
        expect.objectContaining({ code: 'SHAPE_MISMATCH' })
      );
      expect(() =>
        KVCalibration.fromSamples({ kvHeads: 2, headDim: d, layers: [{ keys: x, values: x, positions: positions(0, 4), keyInput: 'post-rope' }] })
      ).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => KVCalibration.fromSamples({ kvHeads: 2, headDim: d, qHeads: 3, layers: [] })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' })
      );
      const c = KVCalibration.fromSamples({ kvHeads: 2, headDim: d, layers: [{ keys: x, values: x, positions: positions(0, 4) }] });
      expect(() => c.keys(0, 'post-rope')).toThrow(expect.objectContaining({ name: 'CalibrationRequiredError' }));
      expect(() => c.layer(2)).toThrow(expect.objectContaining({ name: 'CalibrationRequiredError' }));
    }));
});

describe('KVCalibrationCollector', () => {
  it('collects per-layer activations chunk by chunk, every stride-th token, up to maxTokens', () =>
    withSeed((rng) => {
      const collector = new KVCalibrationCollector({ numLayers: 2, kvHeads: 2, headDim: d, qHeads: 4, rope, maxTokens: 7, stride: 2 });
      const chunks = [5, 6, 9];
      const all: { k: Float32Array; v: Float32Array; q: Float32Array; n: number; start: number }[] = [];
      let start = 0;
      for (const n of chunks) {
        const k = randomArray(rng, 2 * n * d);
        const v = randomArray(rng, 2 * n * d);
        const q = randomArray(rng, 4 * n * d);
        collector.observe(1, {
          keys: tensor(k, [2, n, d]),
          values: tensor(v, [2, n, d]),
          queries: tensor(q, [4, n, d]),
          positions: positions(start, n),
        });
        all.push({ k, v, q, n, start });
        start += n;
      }
      const calibration = collector.finish();
      expect(calibration.has(0)).toBe(false);
      const s = calibration.layer(1);
      // Global token indices 0, 2, 4, …, 12 (7 tokens).
      const kept = [0, 2, 4, 6, 8, 10, 12];
      expect(Array.from(s.positions)).toEqual(kept);
      for (let h = 0; h < 2; h++) {
        kept.forEach((g, j) => {
          const chunk = all.find((c) => g >= c.start && g < c.start + c.n)!;
          const t = g - chunk.start;
          expect(Array.from(s.keys.subarray((h * 7 + j) * d, (h * 7 + j + 1) * d))).toEqual(
            Array.from(chunk.k.subarray((h * chunk.n + t) * d, (h * chunk.n + t + 1) * d))
          );
          expect(Array.from(s.values.subarray((h * 7 + j) * d, (h * 7 + j + 1) * d))).toEqual(
            Array.from(chunk.v.subarray((h * chunk.n + t) * d, (h * chunk.n + t + 1) * d))
          );
        });
      }
      expect(s.queries!.length).toBe(4 * 7 * d);
      expect(() =>
        collector.observe(2, { keys: tensor(all[0].k, [2, 5, d]), values: tensor(all[0].v, [2, 5, d]), positions: positions(0, 5) })
      ).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() =>
        collector.observe(0, { keys: tensor(all[0].k, [2, 5, d]), values: tensor(all[0].v, [2, 5, d]), positions: positions(0, 4) })
      ).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    }));

  it("add() takes a model's layer event: post-RoPE queries are stored rotated back, as observe() stores pre-RoPE ones", () =>
    withSeed((rng) => {
      const n = 6;
      const k = randomArray(rng, 2 * n * d);
      const v = randomArray(rng, 2 * n * d);
      const qPre = randomArray(rng, 4 * n * d);
      const pos = Int32Array.from({ length: n }, (_, i) => 40 + 3 * i);
      const qPost = applyRope(tensor(qPre, [4, n, d]), tensor(pos, [n]), tensor(rope!.invFreq, [d / 2]), rope!.layout);
      const event = { layerIndex: 1, positions: pos, keyPreRope: tensor(k, [2, n, d]), value: tensor(v, [2, n, d]), q: qPost };
      const viaEvent = new KVCalibrationCollector({ numLayers: 2, kvHeads: 2, headDim: d, qHeads: 4, rope });
      viaEvent.add(event);
      const direct = new KVCalibrationCollector({ numLayers: 2, kvHeads: 2, headDim: d, qHeads: 4, rope });
      direct.observe(1, { keys: tensor(k, [2, n, d]), values: tensor(v, [2, n, d]), queries: tensor(qPre, [4, n, d]), positions: pos });
      const a = viaEvent.finish().layer(1);
      const b = direct.finish().layer(1);
      expect(Array.from(a.keys)).toEqual(Array.from(b.keys));
      expect(Array.from(a.values)).toEqual(Array.from(b.values));
      expect(Array.from(a.positions)).toEqual(Array.from(pos));
      assertClose(a.queries!, b.queries!, 1e-5, 'queries rotated back');

      const withoutQueries = new KVCalibrationCollector({ numLayers: 2, kvHeads: 2, headDim: d });
      withoutQueries.add(event);
      expect(withoutQueries.finish().layer(1).queries).toBeUndefined();
      const withoutRope = new KVCalibrationCollector({ numLayers: 2, kvHeads: 2, headDim: d, qHeads: 4 });
      expect(() => withoutRope.add(event)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('rope') }));
      expect(withoutRope.tokens(1)).toBe(0);
    }));

  it('each layer rotates with its own rope (layerRopes): a NoPE layer, zero frequencies, keeps its queries and keys as they are and its query energy unpaired; JSON keeps them', () =>
    withSeed((rng) => {
      const n = 5;
      const k = randomArray(rng, 2 * n * d);
      const q = randomArray(rng, 4 * n * d);
      const pos = Int32Array.from({ length: n }, (_, i) => 11 + 2 * i);
      const none = { invFreq: new Float32Array(d / 2), layout: rope!.layout };
      const layerRopes = [rope!, none];
      const collector = new KVCalibrationCollector({ numLayers: 2, kvHeads: 2, headDim: d, qHeads: 4, rope, layerRopes });
      for (const layerIndex of [0, 1]) collector.add({ layerIndex, positions: pos, keyPreRope: tensor(k, [2, n, d]), value: tensor(k, [2, n, d]), q: tensor(q, [4, n, d]) });
      const calibration = collector.finish();
      expect(calibration.ropeOf(1)).toEqual(none);
      expect(Array.from(calibration.layer(1).queries!)).toEqual(Array.from(q)); // rotated back by nothing
      const rotatedBack = calibration.layer(0).queries!;
      expect(Math.max(...Array.from(rotatedBack, (x, i) => Math.abs(x - q[i])))).toBeGreaterThan(1e-3); // layer 0's were
      expect(Array.from(calibration.keys(1, 'post-rope'))).toEqual(Array.from(k));
      expect(Math.max(...Array.from(calibration.keys(0, 'post-rope'), (x, i) => Math.abs(x - k[i])))).toBeGreaterThan(1e-3);
      // Query energy per channel, E[q_c²] over the group's query heads: paired over rotating pairs on layer 0 only.
      const energy = new Float64Array(2 * d);
      for (let h = 0; h < 4; h++) for (let t = 0; t < n; t++) for (let c = 0; c < d; c++) energy[Math.floor(h / 2) * d + c] += q[(h * n + t) * d + c] ** 2 / (2 * n);
      assertClose(calibration.queryEnergy(1)!, energy, 1e-6, 'unpaired energy');
      const paired = calibration.queryEnergy(0)!;
      expect(paired[0]).toBeCloseTo(paired[d / 2], 12);
      const again = KVCalibration.load(JSON.stringify(calibration.toJSON()));
      expect(again.ropeOf(1)).toEqual(none);
      expect(again.ropeOf(0)).toEqual(rope);
      expect(Array.from(again.keys(1, 'post-rope'))).toEqual(Array.from(k));
      // Post-RoPE input on a NoPE layer comes back as it is.
      const post = KVCalibration.fromSamples({ kvHeads: 2, headDim: d, layerRopes: [none], layers: [{ keys: k, values: k, positions: pos, keyInput: 'post-rope' }] });
      expect(Array.from(post.keys(0, 'pre-rope'))).toEqual(Array.from(k));
      expect(() => KVCalibration.fromSamples({ kvHeads: 2, headDim: d, layerRopes: [none], layers: [undefined, undefined] })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('layerRopes holds 1 ropes for 2 layers') }),
      );
    }));
});
