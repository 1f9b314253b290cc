// Evict + quantize end to end: a kv-evict method on the quantized store (kv-evict is a dev
// dependency of this test only; kv-quant does not depend on it at run time).
import { type CompressingLayer, h2o, raggedDenseStore, snapKV } from '@kvkit/kv-evict';
import { tensor } from '@kvkit/tensor-core';
import { relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { quantizedStore } from '../src/index.js';
import { cpu, layerSpec, positions, randomArray } from './helpers.js';

const d = 64;
const spec = layerSpec({ qHeads: 4, kvHeads: 2, headDim: d });

/** Float64 softmax attention of one query head over one KV head's held tokens (causal by position). */
function referenceHead(q: ArrayLike<number>, keys: ArrayLike<number>, values: ArrayLike<number>, kPos: Int32Array, qPos: number): Float64Array {
  const n = kPos.length;
  const logits = new Float64Array(n);
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    if (kPos[j] > qPos) {
      logits[j] = -Infinity;
      continue;
    }
    let s = 0;
    for (let c = 0; c < d; c++) s += q[c] * keys[j * d + c];
    logits[j] = s / Math.sqrt(d);
    max = Math.max(max, logits[j]);
  }
  const out = new Float64Array(d);
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const w = Math.exp(logits[j] - max);
    sum += w;
    for (let c = 0; c < d; c++) out[c] += w * values[j * d + c];
  }
  return out.map((x) => x / sum);
}

describe('evict + quantize: kv-evict methods on the quantized store', () => {
  for (const [name, method] of [
    ['h2o', (store: ReturnType<typeof quantizedStore>) => h2o({ budget: 0.5, store })],
    ['snapkv', (store: ReturnType<typeof quantizedStore>) => snapKV({ budget: 0.5, observationWindow: 8, store })],
  ] as const) {
    it(`${name}: attention reads the dequantized kept tokens, and matches the dense store within the quantization error`, () =>
      withSeed((rng) => {
        const n = 64;
        const k = randomArray(rng, 2 * n * d);
        const v = randomArray(rng, 2 * n * d);
        const q = randomArray(rng, 4 * n * d);
        const next = randomArray(rng, 4 * d);
        const run = (store: ReturnType<typeof quantizedStore>) => {
          const layer = method(store)(spec) as CompressingLayer;
          layer.append(tensor(k, [2, n, d], { backend: cpu }), tensor(v, [2, n, d], { backend: cpu }), { positions: positions(0, n), phase: 'prefill' });
          layer.attend(tensor(q, [4, n, d], { backend: cpu }), { positions: positions(0, n) });
          const output = Float32Array.from(layer.attend(tensor(next, [4, 1, d], { backend: cpu }), { positions: Int32Array.of(n) }).output.readFloat32Sync());
          return { layer, output };
        };
        const dense = run(raggedDenseStore({ dtype: 'f32' }));
        const errors: number[] = [];
        for (const bits of [8, 4]) {
          const quant = run(quantizedStore({ bits }));
          expect(quant.layer.storedTokens()).toEqual([32, 32]);
          // The layer attends over exactly what its store holds (dequantized), to f32 precision.
          const held = [0, 1].map((h) => ({ ...quant.layer.store.read(h), positions: quant.layer.storedPositions(h) }));
          const reference = new Float64Array(4 * d);
          for (let qh = 0; qh < 4; qh++) {
            const h = held[Math.floor(qh / 2)];
            reference.set(referenceHead(next.subarray(qh * d, (qh + 1) * d), h.keys, h.values, h.positions, n), qh * d);
          }
          expect(relativeError(quant.output, reference)).toBeLessThan(1e-5);
          // Against exact attention over the same tokens in f32: the error quantization alone makes.
          const exact = new Float64Array(4 * d);
          for (let qh = 0; qh < 4; qh++) {
            const h = Math.floor(qh / 2);
            const kept = held[h].positions;
            const rows = (x: Float32Array) => {
              const out = new Float32Array(kept.length * d);
              kept.forEach((p, j) => out.set(x.subarray((h * n + p) * d, (h * n + p + 1) * d), j * d));
              return out;
            };
            exact.set(referenceHead(next.subarray(qh * d, (qh + 1) * d), rows(k), rows(v), kept, n), qh * d);
          }
          errors.push(relativeError(quant.output, exact));
          if (bits === 8) {
            // 8-bit scores rank the tokens almost as f32 does (a near tie may flip one or two), and
            // where the same tokens are kept the dense store's output is within the same error.
            let same = true;
            for (const h of [0, 1]) {
              const ours = new Set(quant.layer.storedPositions(h));
              const theirs = Array.from(dense.layer.storedPositions(h));
              expect(theirs.filter((p) => ours.has(p)).length).toBeGreaterThanOrEqual(30);
              same &&= theirs.every((p) => ours.has(p));
            }
            if (same) expect(relativeError(quant.output, dense.output)).toBeLessThan(1.5e-2);
          }
          // The store's bytes: per token and head, codes of K and V + f16 scale and zero per 32 channels + position.
          const perToken = (2 * (d * bits)) / 8 + 2 * 2 * 2 * 2 + 4;
          const parts = quant.layer.memory().parts;
          expect(parts.codes + parts.scales + parts.zeros + parts.positions).toBe(2 * 32 * perToken);
        }
        // Within the quantization error: 8-bit codes (step ≈ range/255) barely move the output,
        // 4-bit codes (step ≈ range/15) about 16× more, and neither is exact.
        expect(errors[0]).toBeLessThan(1.5e-2);
        expect(errors[1]).toBeLessThan(0.2);
        expect(errors[0]).toBeGreaterThan(0);
        expect(errors[1]).toBeGreaterThan(4 * errors[0]);
      }));
  }
});
