import { dequantizeKivi, validateKiviView } from '@kvkit/attention-kernels';
import { slice, tensor, type Tensor, unpackCodes, wordsPerRow } from '@kvkit/tensor-core';
import { assertClose, referenceLogSumExp, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { kivi, type KiviLayer, QuantizedCacheLayer } from '../src/index.js';
import { cpu, f16, layerSpec, positions, randomArray, referenceAttention } from './helpers.js';

const H = 2;
const D = 16;

function makeLayer(o: Parameters<typeof kivi>[0] = {}): KiviLayer {
  return kivi({ bits: 2, groupSize: 8, residual: 16, initialCapacity: 4, ...o })(layerSpec({ headDim: D, kvHeads: H })) as KiviLayer;
}

/** Appends tokens [from, to) of the full K/V arrays ([H, total, D]). */
function appendRange(layer: KiviLayer, k: Float32Array, v: Float32Array, total: number, from: number, to: number): void {
  const n = to - from;
  const take = (x: Float32Array) => {
    const out = new Float32Array(H * n * D);
    for (let h = 0; h < H; h++) out.set(x.subarray((h * total + from) * D, (h * total + to) * D), h * n * D);
    return tensor(out, [H, n, D]);
  };
  layer.append(take(k), take(v), { positions: positions(from, n), phase: from === 0 ? 'prefill' : 'decode' });
}

/** The valid prefix of a view's tensors, as plain arrays, for bit-exact comparison. */
function validParts(layer: KiviLayer) {
  const view = layer.view();
  validateKiviView(view);
  const rk = view.length - view.keyGroups * view.groupSize;
  const rv = view.length - view.valueTokens;
  const cut = (t: Tensor, count: number) =>
    Array.from(
      slice(
        t,
        t.shape.map(() => 0),
        t.shape.map((d, i) => (i === 1 ? count : d))
      ).readSync()
    );
  return {
    counts: [view.length, view.keyGroups, view.valueTokens],
    keyCodes: cut(view.keyCodes, view.keyGroups),
    keyScale: cut(view.keyScale, view.keyGroups),
    keyMin: cut(view.keyMin, view.keyGroups),
    valueCodes: cut(view.valueCodes, view.valueTokens),
    valueScale: cut(view.valueScale, view.valueTokens),
    valueMin: cut(view.valueMin, view.valueTokens),
    residualKeys: cut(view.residualKeys, rk),
    residualValues: cut(view.residualValues, rv),
    positions: Array.from(slice(view.positions, [0], [view.length]).readSync()),
  };
}

describe('kivi', () => {
  it('follows KIVI residual rules: keys flush R tokens as R/G groups, the newest R values stay in full precision', () =>
    withSeed((rng) => {
      const total = 70;
      const k = randomArray(rng, H * total * D);
      const v = randomArray(rng, H * total * D);
      const layer = makeLayer();
      appendRange(layer, k, v, total, 0, 37); // prefill: 32 keys quantized (2 flushes of 16), 5 wait; 21 values quantized
      expect(validParts(layer).counts).toEqual([37, 4, 21]);
      for (let t = 37; t < 48; t++) appendRange(layer, k, v, total, t, t + 1);
      expect(validParts(layer).counts).toEqual([48, 6, 32]); // the residual reached 16 at token 48
      appendRange(layer, k, v, total, 48, 70);
      expect(validParts(layer).counts).toEqual([70, 8, 54]);
    }));

  it('streaming (any chunking, prefill then decode) stores exactly what one-shot quantization of the same tokens stores', () =>
    withSeed((rng) => {
      for (const bits of [2, 4, 8] as const) {
        const total = 83;
        const k = randomArray(rng, H * total * D);
        const v = randomArray(rng, H * total * D, 3);
        const oneShot = makeLayer({ bits });
        appendRange(oneShot, k, v, total, 0, total);
        const streamed = makeLayer({ bits });
        let t = 0;
        while (t < total) {
          const n = Math.min(total - t, t === 0 ? 1 + rng.int(30) : rng.uniform() < 0.7 ? 1 : 1 + rng.int(9));
          appendRange(streamed, k, v, total, t, t + n);
          t += n;
        }
        expect(validParts(streamed)).toEqual(validParts(oneShot));
      }
    }));

  for (const bits of [2, 4, 8] as const) {
    it(`${bits}-bit: dequantizes to within half a step of the inputs: keys per channel over groups of tokens, values per token over groups of channels`, () =>
      withSeed((rng) => {
        const total = 50;
        const k = randomArray(rng, H * total * D, 2);
        const v = randomArray(rng, H * total * D);
        const layer = makeLayer({ bits, valueGroupSize: 8 });
        appendRange(layer, k, v, total, 0, total);
        const view = layer.view();
        const { keys, values } = dequantizeKivi(view);
        const kd = keys.readSync();
        const vd = values.readSync();
        const kScale = view.keyScale.readFloat32Sync();
        const vScale = view.valueScale.readFloat32Sync();
        const gCap = view.keyScale.shape[1];
        const vCap = view.valueScale.shape[1];
        for (let h = 0; h < H; h++) {
          for (let t = 0; t < total; t++) {
            for (let c = 0; c < D; c++) {
              const i = (h * total + t) * D + c;
              const g = Math.floor(t / 8);
              if (g < view.keyGroups) {
                // The direct formula: this channel's group of 8 tokens shares one asymmetric grid of 2^bits levels.
                const xs = Array.from({ length: 8 }, (_, j) => f16(k[(h * total + g * 8 + j) * D + c]));
                const s = kScale[(h * gCap + g) * D + c];
                expect(s * (2 ** bits - 1)).toBeGreaterThanOrEqual(Math.max(...xs) - Math.min(...xs) - 1e-9);
                expect(Math.abs(kd[i] - f16(k[i]))).toBeLessThanOrEqual(s / 2 + 1e-6);
              } else expect(kd[i]).toBe(f16(k[i]));
              if (t < view.valueTokens) {
                const s = vScale[(h * vCap + t) * 2 + Math.floor(c / 8)];
                expect(Math.abs(vd[i] - f16(v[i]))).toBeLessThanOrEqual(s / 2 + 1e-6);
              } else expect(vd[i]).toBe(f16(v[i]));
            }
          }
        }
      }));
  }

  it('attends like attention over the dequantized cache, its log-sum-exp too (fused-kernel seam and generic path agree)', () =>
    withSeed((rng) => {
      const total = 45;
      const k = randomArray(rng, H * total * D);
      const v = randomArray(rng, H * total * D);
      const layer = makeLayer({ dtype: 'f32' });
      appendRange(layer, k, v, total, 0, 40);
      for (let t = 40; t < total; t++) appendRange(layer, k, v, total, t, t + 1);
      const q = randomArray(rng, 4 * 3 * D);
      const qPos = positions(total - 3, 3);
      const got = layer.attend(tensor(q, [4, 3, D]), { positions: qPos, statistics: true, returnLse: true });
      // Independent dequantization from the stored codes with the KIVI formulas.
      const view = layer.view();
      const kd = new Float64Array(H * total * D);
      const vd = new Float64Array(H * total * D);
      const kc = view.keyCodes.readSync() as Uint32Array;
      const ks = view.keyScale.readFloat32Sync();
      const km = view.keyMin.readFloat32Sync();
      const vc = view.valueCodes.readSync() as Uint32Array;
      const vs = view.valueScale.readFloat32Sync();
      const vm = view.valueMin.readFloat32Sync();
      const rk = view.residualKeys.readFloat32Sync();
      const rv = view.residualValues.readFloat32Sync();
      const kw = wordsPerRow(8, 2);
      const vw = wordsPerRow(D, 2, view.valueGroupSize);
      const gCap = view.keyCodes.shape[1];
      const vCap = view.valueCodes.shape[1];
      const rkCap = view.residualKeys.shape[1];
      const rvCap = view.residualValues.shape[1];
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < total; t++) {
          const g = Math.floor(t / 8);
          for (let c = 0; c < D; c++) {
            const i = (h * total + t) * D + c;
            if (g < view.keyGroups) {
              const row = (h * gCap + g) * D + c;
              const codes = unpackCodes(kc.subarray(row * kw, (row + 1) * kw), 8, 2);
              kd[i] = codes[t % 8] * ks[row] + km[row];
            } else kd[i] = rk[(h * rkCap + t - view.keyGroups * 8) * D + c];
            if (t < view.valueTokens) {
              const row = h * vCap + t;
              const codes = unpackCodes(vc.subarray(row * vw, (row + 1) * vw), D, 2, view.valueGroupSize);
              const p = row * (D / view.valueGroupSize) + Math.floor(c / view.valueGroupSize);
              vd[i] = codes[c] * vs[p] + vm[p];
            } else vd[i] = rv[(h * rvCap + t - view.valueTokens) * D + c];
          }
        }
      }
      const ref = referenceAttention(q, kd, vd, { qHeads: 4, kvHeads: H, m: 3, n: total, d: D }, qPos, positions(0, total));
      assertClose(got.output.readSync(), ref.out, 1e-5, 'kivi attend vs float64 reference');
      assertClose(got.statistics!.keySum.readSync(), ref.keySum, 1e-5, 'statistics');
      const lse = referenceLogSumExp(q, kd, { qHeads: 4, kvHeads: H, m: 3, n: total, d: D }, qPos, positions(0, total));
      assertClose(got.lse!.readSync(), lse, 1e-5, 'log-sum-exp');
      const generic = QuantizedCacheLayer.prototype.attend.call(layer, tensor(q, [4, 3, D]), { positions: qPos, returnLse: true });
      assertClose(generic.output.readSync(), got.output.readSync(), 1e-6, 'generic path');
      assertClose(generic.lse!.readSync(), got.lse!.readSync(), 1e-6, 'generic path log-sum-exp');
    }));

  it('memory() counts codes, scales, zeros, residual, positions and reserved capacity byte for byte (and matches the backend)', () =>
    withSeed((rng) => {
      const k = tensor(randomArray(rng, 2 * 200 * 64), [2, 200, 64]);
      const v = tensor(randomArray(rng, 2 * 200 * 64), [2, 200, 64]);
      const before = cpu.bytesInUse();
      const spec = layerSpec({ headDim: 64, kvHeads: 2 });
      const layer = kivi({ bits: 2, groupSize: 32, residual: 64, initialCapacity: 128 })(spec) as KiviLayer;
      layer.append(k, v, { positions: positions(0, 200), phase: 'prefill' });
      const q = tensor(randomArray(rng, 4 * 64), [4, 1, 64]);
      const beforeAttend = cpu.bytesInUse();
      layer.attend(q, { positions: positions(199, 1) }).output.dispose();
      expect(cpu.bytesInUse()).toBe(beforeAttend); // attention leaves nothing behind
      q.dispose();
      // 200 tokens: keys 3 flushes of 64 = 6 groups + 8 residual; values 136 quantized + 64 window.
      const m = layer.memory();
      const keyGroupBytes = 2 * 64 * (wordsPerRow(32, 2) * 4 + 2 + 2); // codes + f16 scale + f16 min per channel
      const valueTokenBytes = 2 * (wordsPerRow(64, 2, 32) * 4 + 2 * 2 + 2 * 2);
      expect(m.parts.codes).toBe(6 * 2 * 64 * wordsPerRow(32, 2) * 4 + 136 * 2 * wordsPerRow(64, 2, 32) * 4);
      expect(m.parts.scales).toBe(6 * 2 * 64 * 2 + 136 * 2 * 2 * 2);
      expect(m.parts.zeros).toBe(m.parts.scales);
      expect(m.parts.window).toBe((8 + 64) * 2 * 64 * 2);
      expect(m.parts.positions).toBe(200 * 4);
      // Capacity: key groups 4 → 8, value tokens 128 → 256, residuals 64 each, positions 128 → 256.
      expect(m.parts.reserved).toBe(2 * keyGroupBytes + 120 * valueTokenBytes + (64 - 8) * 2 * 64 * 2 + 56 * 4);
      expect(m.bytes).toBe(Object.values(m.parts).reduce((a, b) => a + b, 0));
      expect(m.tokens).toBe(200);
      expect(cpu.bytesInUse() - before).toBe(m.bytes);
      layer.dispose();
      expect(cpu.bytesInUse()).toBe(before);
    }));

  it('bad configurations are typed errors; a failed append leaves the layer unchanged', () =>
    withSeed((rng) => {
      expect(() => kivi({ bits: 3 })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_BIT_WIDTH' }));
      expect(() => kivi({ groupSize: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => makeLayer({ residual: 12 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => makeLayer({ valueGroupSize: 6 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => kivi({ dtype: 'bf16' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      const layer = makeLayer();
      const k = tensor(randomArray(rng, H * 20 * D), [H, 20, D]);
      layer.append(k, k, { positions: positions(0, 20), phase: 'prefill' });
      const q = tensor(randomArray(rng, 4 * D), [4, 1, D]);
      const before = {
        parts: validParts(layer),
        memory: layer.memory(),
        out: Array.from(layer.attend(q, { positions: positions(20, 1) }).output.readSync()),
      };
      const bad: [() => void, string][] = [
        [() => layer.append(tensor(new Float32Array(3 * 2 * D), [3, 2, D]), k, { positions: positions(20, 2), phase: 'decode' }), 'SHAPE_MISMATCH'],
        [() => layer.append(k, k, { positions: positions(20, 3), phase: 'decode' }), 'SHAPE_MISMATCH'],
        [() => layer.append(k, k, { positions: Int32Array.from({ length: 20 }, (_, i) => i - 1), phase: 'decode' }), 'INVALID_CONFIG'],
        [
          () => layer.append(tensor(new Int32Array(H * 20 * D), [H, 20, D], { dtype: 'i32' }), k, { positions: positions(20, 20), phase: 'decode' }),
          'UNSUPPORTED_DTYPE',
        ],
        [() => layer.attend(tensor(new Float32Array(3 * D), [3, 1, D]), { positions: positions(20, 1) }), 'SHAPE_MISMATCH'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
      expect(validParts(layer)).toEqual(before.parts);
      expect(layer.memory()).toEqual(before.memory);
      expect(Array.from(layer.attend(q, { positions: positions(20, 1) }).output.readSync())).toEqual(before.out);
      layer.dispose();
      expect(() => layer.view()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    }));

  it('4-bit is closer to the uncompressed attention than 2-bit', () =>
    withSeed((rng) => {
      const total = 96;
      const k = randomArray(rng, H * total * D);
      const v = randomArray(rng, H * total * D);
      const q = randomArray(rng, 4 * D, 2);
      const ref = referenceAttention(q, roundToF16(k), roundToF16(v), { qHeads: 4, kvHeads: H, m: 1, n: total, d: D }, [total], positions(0, total));
      const errorAt = (bits: 2 | 4) => {
        const layer = makeLayer({ bits, residual: 0 });
        appendRange(layer, k, v, total, 0, total);
        const out = layer.attend(tensor(q, [4, 1, D]), { positions: Int32Array.of(total) }).output.readSync();
        let e = 0;
        let norm = 0;
        out.forEach((x, i) => {
          e += (x - ref.out[i]) ** 2;
          norm += ref.out[i] ** 2;
        });
        return Math.sqrt(e / norm);
      };
      expect(errorAt(4)).toBeLessThan(errorAt(2) / 2);
    }));
});

function roundToF16(a: Float32Array): Float64Array {
  return Float64Array.from(a, f16);
}
