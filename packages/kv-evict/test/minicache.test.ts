import { createCache, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type CompressingLayer, miniCache, raggedDenseStore } from '../src/index.js';
import { backend, cacheSpec, f32, positions, randomArray, referenceAttention } from './helpers.js';

const d = 8;

/** SLERP of directions, written from the formula (independent of the package's helper). */
function slerp(a: number[], b: number[], t: number): number[] {
  const na = Math.hypot(...a);
  const nb = Math.hypot(...b);
  const ua = a.map((x) => x / na);
  const ub = b.map((x) => x / nb);
  const omega = Math.acos(Math.min(1, ua.reduce((s, x, i) => s + x * ub[i], 0)));
  return ua.map((x, i) => (Math.sin((1 - t) * omega) * x + Math.sin(t * omega) * ub[i]) / Math.sin(omega));
}

describe('MiniCache', () => {
  it('merges adjacent layers per token: shared SLERP direction, own norms, the most distinct token kept apart', () =>
    withSeed((rng) => {
      const cache = createCache(cacheSpec({ numLayers: 4, qHeads: 1, kvHeads: 1, headDim: d }), miniCache({ start: 0.5, t: 0.6, retain: 0.05, store: raggedDenseStore({ dtype: 'f32' }) }));
      const n = 20;
      const k2 = randomArray(rng, n * d);
      const v2 = randomArray(rng, n * d);
      const k3 = Float32Array.from(k2, (x) => 1.5 * x + 0.1 * rng.normal());
      const v3 = Float32Array.from(v2, (x) => 0.7 * x + 0.1 * rng.normal());
      for (let c = 0; c < d; c++) {
        k3[7 * d + c] = -k2[7 * d + c]; // token 7: opposite directions in the two layers
        v3[7 * d + c] = -v2[7 * d + c];
      }
      const inputs = [
        [k2, v2],
        [k2, v2],
        [k2, v2],
        [k3, v3],
      ];
      cache.layers.forEach((layer, l) => {
        layer.append(tensor(inputs[l][0], [1, n, d], { backend }), tensor(inputs[l][1], [1, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
        layer.attend(tensor(randomArray(rng, n * d), [1, n, d], { backend }), { positions: positions(0, n) });
      });
      const [l0, l1, l2, l3] = cache.layers as CompressingLayer[];
      expect(l0.storedTokens()).toEqual([n]);
      expect(l2.storedTokens()).toEqual([1]);
      expect([...l2.storedPositions(0)]).toEqual([7]);
      expect([...l3.storedPositions(0)]).toEqual([7]);
      // The next query of layer 2 reads the rebuilt tokens ‖k2‖·slerp(k2, k3) and the exact token 7.
      const q = randomArray(rng, d);
      const out = l2.attend(tensor(q, [1, 1, d], { backend }), { positions: Int32Array.of(n - 1) }).output;
      const row = (x: Float32Array, j: number) => Array.from(x.subarray(j * d, (j + 1) * d));
      const merged = Array.from({ length: n }, (_, j) => j).filter((j) => j !== 7);
      const rebuilt = (a: Float32Array, b: Float32Array, j: number) => slerp(row(a, j), row(b, j), 0.6).map((x) => x * Math.hypot(...row(a, j)));
      const head = {
        keys: [...row(k2, 7), ...merged.flatMap((j) => rebuilt(k2, k3, j))],
        values: [...row(v2, 7), ...merged.flatMap((j) => rebuilt(v2, v3, j))],
        positions: [7, ...merged],
      };
      assertClose(f32(out), referenceAttention(q, 1, 1, d, [head], Int32Array.of(n - 1)).output, 1e-5, 'layer 2 over merged states');
      // Layer 3 rebuilds with its own norms.
      const out3 = l3.attend(tensor(q, [1, 1, d], { backend }), { positions: Int32Array.of(n - 1) }).output;
      const head3 = {
        keys: [...row(k3, 7), ...merged.flatMap((j) => slerp(row(k2, j), row(k3, j), 0.6).map((x) => x * Math.hypot(...row(k3, j))))],
        values: [...row(v3, 7), ...merged.flatMap((j) => slerp(row(v2, j), row(v3, j), 0.6).map((x) => x * Math.hypot(...row(v3, j))))],
        positions: [7, ...merged],
      };
      assertClose(f32(out3), referenceAttention(q, 1, 1, d, [head3], Int32Array.of(n - 1)).output, 1e-5, 'layer 3 over merged states');
      // Honest bytes: each layer keeps 1 exact token; the pair keeps one direction per merged token
      // (split between the two layer reports) and each layer its own two norms per merged token.
      const [m2, m3] = [l2.memory().parts, l3.memory().parts];
      expect(m2.keys).toBe(d * 4);
      expect(m3.values).toBe(d * 4);
      expect(m2['merged.keys'] + m3['merged.keys']).toBe(19 * d * 4);
      expect(m2.norms).toBe(19 * 2 * 4);
      const kv = (p: Record<string, number>) => (p.keys ?? 0) + (p.values ?? 0) + (p['merged.keys'] ?? 0) + (p['merged.values'] ?? 0) + (p.norms ?? 0);
      const dense = [l0, l1].reduce((s, l) => s + l.memory().parts.keys + l.memory().parts.values, 0);
      expect(kv(m2) + kv(m3)).toBeLessThan(0.7 * dense);
    }));
});
