import { createCache, InvalidConfigError, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type CompressingLayer, echoInduction, profileRetrievalHeads, raggedDenseStore, razorAttention, selectRetrievalHeads } from '../src/index.js';
import { backend, cacheSpec, f32, layerSpec, positions, randomArray, referenceAttention } from './helpers.js';

describe('RazorAttention', () => {
  it('picks the top echo and induction heads across the model', () => {
    const profile = {
      echo: [
        [0.9, 0.1],
        [0.2, 0],
      ],
      induction: [
        [0.1, 0.3],
        [0.05, 0.8],
      ],
    };
    // 4 heads: ceil(0.25 · 4) = 1 echo head (0,0) and ceil(0.5 · 4) = 2 induction heads (1,1), (0,1).
    expect(selectRetrievalHeads(profile, { echoShare: 0.25, inductionShare: 0.5 })).toEqual([
      [true, true],
      [false, true],
    ]);
    // Heads scoring 0 are never chosen.
    expect(selectRetrievalHeads({ echo: [[0, 0]], induction: [[0, 0]] }, { echoShare: 1, inductionShare: 1 })).toEqual([[false, false]]);
    expect(() => selectRetrievalHeads({ echo: [[1]], induction: [] })).toThrow(InvalidConfigError);
  });

  it('measures echo and induction on repeated tokens (hand-made attention rows)', () => {
    // Tokens: a b c a b; queries at storage indices 3 (a) and 4 (b).
    const tokenIds = Int32Array.of(7, 8, 9, 7, 8);
    const rows = Float64Array.of(
      // query 3 (a): previous a at 0, the token after it at 1
      0.5, 0.3, 0.1, 0.1, 0,
      // query 4 (b): previous b at 1, the token after it at 2
      0.1, 0.2, 0.6, 0, 0.1,
    );
    const { echo, induction } = echoInduction(rows, 2, 5, [3, 4], tokenIds);
    expect(echo).toBeCloseTo((0.5 + 0.2) / 2, 12);
    expect(induction).toBeCloseTo((0.3 + 0.6) / 2, 12);
  });

  it('finds an echo head and an induction head with the repeated random probe', async () => {
    const numLayers = 2;
    const d = 40;
    const big = Math.sqrt(12 * Math.sqrt(d));
    // Layer 0, KV head 0 is an echo head (key = own token); layer 1, KV head 1 an induction head
    // (key = previous token); the other heads have zero keys (uniform attention).
    const profile = await profileRetrievalHeads({
      numLayers,
      tokenRange: [0, 40],
      length: 16,
      seed: 3,
      run: (ids, onLayer) => {
        const n = ids.length;
        for (let layer = 0; layer < numLayers; layer++) {
          const q = new Float32Array(4 * n * d);
          const k = new Float32Array(2 * n * d);
          for (let i = 0; i < n; i++) {
            for (let h = 0; h < 4; h++) q[(h * n + i) * d + ids[i]] = big;
            if (layer === 0) k[(0 * n + i) * d + ids[i]] = big;
            if (layer === 1 && i > 0) k[(1 * n + i) * d + ids[i - 1]] = big;
          }
          onLayer({ layerIndex: layer, q: tensor(q, [4, n, d], { backend }), key: tensor(k, [2, n, d], { backend }) });
        }
      },
    });
    expect(profile.echo[0][0]).toBeGreaterThan(0.4); // split between the previous copy and itself
    expect(profile.induction[1][1]).toBeGreaterThan(0.9);
    expect(profile.induction[0][0]).toBeLessThan(0.1);
    expect(selectRetrievalHeads(profile, { echoShare: 0.25, inductionShare: 0.25 })).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('keeps retrieval heads whole; other heads keep sinks + window + a compensation token weighted by what it stands for', () =>
    withSeed((rng) => {
      const d = 8;
      const n = 40;
      const layer = razorAttention({
        budget: 10,
        sinks: 2,
        profile: { echo: [[0, 0.9]], induction: [[0, 0]] },
        echoShare: 0.5,
        inductionShare: 0,
        store: raggedDenseStore({ dtype: 'f32' }),
      })(layerSpec({ numLayers: 1, qHeads: 4, kvHeads: 2, headDim: d })) as CompressingLayer;
      const k = randomArray(rng, 2 * n * d);
      const v = randomArray(rng, 2 * n * d);
      layer.append(tensor(k, [2, n, d], { backend }), tensor(v, [2, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
      layer.attend(tensor(randomArray(rng, 4 * n * d), [4, n, d], { backend }), { positions: positions(0, n) });
      expect([...layer.storedPositions(0)]).toEqual([0, 1, ...Array.from({ length: 8 }, (_, i) => 32 + i)]);
      expect(layer.storedPositions(1)).toHaveLength(n);
      expect(layer.memory().parts.compensation).toBeGreaterThan(0);
      // The next query attends over head 0's kept tokens + the mean of the 30 dropped ones counted 30 times.
      const q = randomArray(rng, 4 * d);
      const out = layer.attend(tensor(q, [4, 1, d], { backend }), { positions: Int32Array.of(n - 1) }).output;
      const row = (src: Float32Array, h: number, j: number) => Array.from(src.subarray((h * n + j) * d, (h * n + j + 1) * d));
      const kept = [0, 1, ...Array.from({ length: 8 }, (_, i) => 32 + i)];
      const dropped = Array.from({ length: 30 }, (_, i) => 2 + i);
      const mean = (src: Float32Array) => Array.from({ length: d }, (_, c) => dropped.reduce((s, j) => s + src[(0 * n + j) * d + c], 0) / 30);
      const head0 = {
        keys: [...kept.flatMap((j) => row(k, 0, j)), ...mean(k)],
        values: [...kept.flatMap((j) => row(v, 0, j)), ...mean(v)],
        positions: [...kept, 31],
        logWeights: [...kept.map(() => 0), Math.log(30)],
      };
      const head1 = { keys: Array.from(k.subarray(n * d)), values: Array.from(v.subarray(n * d)), positions: positions(0, n) };
      assertClose(f32(out), referenceAttention(q, 4, 1, d, [head0, head1], Int32Array.of(n - 1)).output, 1e-5, 'compensated attention');
    }));

  it('without a profile, profiles the prompt in context and decides at the end of the prefill pass', () =>
    withSeed((rng) => {
      const d = 48;
      const big = Math.sqrt(12 * Math.sqrt(d));
      const segment = Array.from({ length: 20 }, () => 1 + rng.int(40));
      const ids = Int32Array.from([0, ...segment, ...segment]);
      const n = ids.length;
      const cache = createCache(cacheSpec({ numLayers: 2, qHeads: 2, kvHeads: 2, headDim: d }), razorAttention({ budget: 8, inductionShare: 0.25, echoShare: 0 }));
      for (const [l, layer] of cache.layers.entries()) {
        const q = new Float32Array(2 * n * d);
        const k = new Float32Array(2 * n * d);
        for (let i = 0; i < n; i++) {
          for (let h = 0; h < 2; h++) q[(h * n + i) * d + ids[i]] = big;
          if (l === 1 && i > 0) k[(0 * n + i) * d + ids[i - 1]] = big; // layer 1, head 0: induction
        }
        layer.append(tensor(k, [2, n, d], { backend }), tensor(k, [2, n, d], { backend }), { positions: positions(0, n), phase: 'prefill', tokenIds: ids });
        layer.attend(tensor(q, [2, n, d], { backend }), { positions: positions(0, n) });
        if (l === 0) expect((layer as CompressingLayer).storedTokens()).toEqual([n, n]); // deferred until the pass ends
      }
      const info = cache.layers.map((layer) => (layer as CompressingLayer).describe().retrievalHeads);
      expect(info).toEqual([
        [false, false],
        [true, false],
      ]);
      expect((cache.layers[1] as CompressingLayer).storedTokens()).toEqual([n, 8]);
      expect((cache.layers[0] as CompressingLayer).storedTokens()).toEqual([8, 8]);
    }));
});
