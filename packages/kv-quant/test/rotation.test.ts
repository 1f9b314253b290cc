import { ropeInverseFrequencies, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { ChannelRotation, hadamard, KVCalibration, outlierAwareOrder, type QuantizedCacheLayer, rotateKV, uniformQuant } from '../src/index.js';
import { cpu, layerSpec, positions, randomArray, referenceAttention, ropeHalf, withOutlierChannels } from './helpers.js';

/** Sylvester's construction: H_1 = [1], H_2n = [[H, H], [H, −H]]. */
function sylvester(n: number): number[][] {
  let h = [[1]];
  while (h.length < n) h = [...h.map((r) => [...r, ...r]), ...h.map((r) => [...r, ...r.map((x) => -x)])];
  return h;
}

describe('Walsh–Hadamard rotation', () => {
  it('the fast transform is the normalized Sylvester matrix: orthogonal, symmetric, its own inverse', () =>
    withSeed((rng) => {
      for (const n of [1, 2, 8, 64]) {
        const eye = new Float32Array(n * n);
        for (let i = 0; i < n; i++) eye[i * n + i] = 1;
        const rows = hadamard(tensor(eye, [n, n]), n).readSync();
        const s = sylvester(n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(rows[i * n + j]).toBeCloseTo(s[i][j] / Math.sqrt(n), 6);
        const x = randomArray(rng, 3 * n);
        const back = hadamard(hadamard(tensor(x, [3, n]), n), n).readSync();
        assertClose(back, x, 1e-6, 'H·H·x = x');
      }
      // Blocks: each block of 8 transformed on its own.
      const x = randomArray(rng, 16);
      const blocks = hadamard(tensor(x, [1, 16]), 8).readSync();
      const first = hadamard(tensor(x.subarray(0, 8), [1, 8]), 8).readSync();
      assertClose(blocks.subarray(0, 8), first, 1e-7);
      expect(() => hadamard(tensor(x, [1, 16]), 6)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));

  it('a channel rotation (reorder + block Hadamard, grouped heads) is orthogonal and invertible; scores are invariant when queries get it too', () =>
    withSeed((rng) => {
      const kvHeads = 4;
      const d = 8;
      const perm = () => {
        const p = Int32Array.from({ length: 2 * d }, (_, i) => i);
        for (let i = p.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [p[i], p[j]] = [p[j], p[i]];
        }
        return p;
      };
      const grouped = new ChannelRotation(cpu, { kvHeads, headDim: d, headGroup: 2, blockSize: 8, permutations: [perm(), perm()] }, 'test');
      const x = randomArray(rng, kvHeads * 5 * d);
      const y = grouped.forward(tensor(x, [kvHeads, 5, d])).readSync();
      assertClose(grouped.inverse(tensor(y, [kvHeads, 5, d])).readSync(), x, 1e-6, 'R⁻¹R = I');
      // Norms of each token's group vector are preserved.
      for (let g = 0; g < 2; g++) {
        for (let t = 0; t < 5; t++) {
          let a = 0;
          let b = 0;
          for (let j = 0; j < 2; j++)
            for (let c = 0; c < d; c++) {
              const i = ((g * 2 + j) * 5 + t) * d + c;
              a += x[i] ** 2;
              b += y[i] ** 2;
            }
          expect(b).toBeCloseTo(a, 5);
        }
      }
      // Per head (headGroup 1): q·k = (Rq)·(Rk) for every query head of the KV head.
      const perHead = new ChannelRotation(
        cpu,
        { kvHeads: 2, headDim: d, headGroup: 1, blockSize: 4, permutations: [perm().filter((c) => c < d), perm().filter((c) => c < d)] },
        'test'
      );
      const k = randomArray(rng, 2 * 3 * d);
      const q = randomArray(rng, 4 * 2 * d);
      const rk = perHead.forward(tensor(k, [2, 3, d])).readSync();
      const rq = perHead.forQueryHeads(tensor(q, [4, 2, d]), 'forward').readSync();
      for (let h = 0; h < 4; h++) {
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 3; j++) {
            let s = 0;
            let sr = 0;
            for (let c = 0; c < d; c++) {
              s += q[(h * 2 + i) * d + c] * k[((h >> 1) * 3 + j) * d + c];
              sr += rq[(h * 2 + i) * d + c] * rk[((h >> 1) * 3 + j) * d + c];
            }
            expect(sr).toBeCloseTo(s, 5);
          }
        }
      }
      expect(() => grouped.forQueryHeads(tensor(q, [4, 2, d]), 'forward')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => new ChannelRotation(cpu, { kvHeads: 3, headDim: d, headGroup: 2, blockSize: 8 }, 't')).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' })
      );
      expect(
        () =>
          new ChannelRotation(
            cpu,
            { kvHeads: 2, headDim: d, headGroup: 1, blockSize: 8, permutations: [Int32Array.of(0, 0, 1, 2, 3, 4, 5, 6), perm().slice(0, 8)] },
            't'
          )
      ).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));

  it('the outlier-aware order deals the strongest channels evenly over the Hadamard blocks', () =>
    withSeed((rng) => {
      const width = 32;
      const n = 40;
      const strong = [1, 2, 3, 4, 20, 21, 22, 23];
      const rows = new Float32Array(n * width);
      for (let t = 0; t < n; t++) for (let c = 0; c < width; c++) rows[t * width + c] = rng.normal() * (strong.includes(c) ? 30 : 1);
      const order = outlierAwareOrder(rows, n, width, 8);
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: width }, (_, i) => i));
      for (let b = 0; b < 4; b++) expect(Array.from(order.subarray(b * 8, b * 8 + 8)).filter((c) => strong.includes(c)).length).toBe(2);
    }));
});

describe('rotateKV', () => {
  const d = 16;
  const spec = layerSpec({ headDim: d, kvHeads: 2, qHeads: 4, rope: { invFreq: ropeInverseFrequencies(d, 10000), layout: 'half' } });

  it('pre-RoPE: attends like attention over RoPE(R⁻¹ · stored keys) at the stored positions', () =>
    withSeed((rng) => {
      const n = 20;
      const k = randomArray(rng, 2 * n * d);
      const v = randomArray(rng, 2 * n * d);
      const layer = rotateKV({ bits: 4, groupSize: 8, dtype: 'f32' })(spec) as QuantizedCacheLayer;
      expect(layer.keyInput).toBe('pre-rope');
      const pos = Int32Array.from({ length: n }, (_, i) => 3 * i + 5); // gaps, as after eviction
      layer.append(tensor(k, [2, n, d]), tensor(v, [2, n, d]), { positions: pos, phase: 'prefill' });
      const rotation = new ChannelRotation(cpu, { kvHeads: 2, headDim: d, headGroup: 2, blockSize: 16 }, 'ref');
      const valueRotation = new ChannelRotation(cpu, { kvHeads: 2, headDim: d, headGroup: 1, blockSize: 16 }, 'ref');
      const storedK = rotation.inverse(layer.keys.decode()).readSync();
      const storedV = valueRotation.inverse(layer.values.decode()).readSync();
      const q = randomArray(rng, 4 * 2 * d);
      const qPos = Int32Array.of(40, 70);
      const out = layer.attend(tensor(q, [4, 2, d]), { positions: qPos }).output.readSync();
      const ref = referenceAttention(
        q,
        ropeHalf(storedK, 2, n, d, pos, spec.rope.invFreq),
        storedV,
        { qHeads: 4, kvHeads: 2, m: 2, n, d },
        qPos,
        pos
      );
      assertClose(out, ref.out, 1e-5, 'pre-RoPE rotateKV attend');
      // The sink token is exact.
      for (let h = 0; h < 2; h++) for (let c = 0; c < d; c++) expect(storedK[h * n * d + c]).toBeCloseTo(k[h * n * d + c], 5);
    }));

  it('post-RoPE: rotating the queries instead of the keys gives the same attention', () =>
    withSeed((rng) => {
      const n = 24;
      const k = randomArray(rng, 2 * n * d);
      const v = randomArray(rng, 2 * n * d);
      const layer = rotateKV({ bits: 4, groupSize: 8, keyInput: 'post-rope', dtype: 'f32', sinks: 0 })(spec) as QuantizedCacheLayer;
      layer.append(tensor(k, [2, n, d]), tensor(v, [2, n, d]), { positions: positions(0, n), phase: 'prefill' });
      const rotation = new ChannelRotation(cpu, { kvHeads: 2, headDim: d, headGroup: 1, blockSize: 16 }, 'ref');
      const keys = rotation.inverse(layer.keys.decode()).readSync();
      const values = rotation.inverse(layer.values.decode()).readSync();
      const q = randomArray(rng, 4 * 3 * d);
      const qPos = positions(n - 3, 3);
      const out = layer.attend(tensor(q, [4, 3, d]), { positions: qPos }).output.readSync();
      assertClose(out, referenceAttention(q, keys, values, { qHeads: 4, kvHeads: 2, m: 3, n, d }, qPos, positions(0, n)).out, 1e-5, 'post-RoPE');
    }));

  it('flattens outlier channels: 2-bit per-token keys lose far less after the rotation, and less again with the outlier-aware order', () =>
    withSeed((rng) => {
      const n = 48;
      const D = 64;
      const spec64 = layerSpec({ headDim: D, kvHeads: 2, qHeads: 4 });
      const k = withOutlierChannels(rng, 2, n, D, [2, 9], 25); // both in the first block of 32 in natural order
      const keyError = (layer: QuantizedCacheLayer, decodeRotation?: ChannelRotation) => {
        layer.append(tensor(k, [2, n, D]), tensor(k, [2, n, D]), { positions: positions(0, n), phase: 'prefill' });
        const decoded = layer.keys.decode();
        const x = (decodeRotation ? decodeRotation.inverse(decoded) : decoded).readSync();
        let e = 0;
        for (let i = 0; i < x.length; i++) e += (x[i] - k[i]) ** 2;
        return e;
      };
      const common = { bits: 2, groupSize: D, dtype: 'f32' as const };
      const plain = keyError(uniformQuant(common)(spec64) as QuantizedCacheLayer);
      const rotation = (permutations?: Int32Array[]) =>
        new ChannelRotation(cpu, { kvHeads: 2, headDim: D, headGroup: 1, blockSize: 32, permutations }, 'ref');
      const natural = keyError(rotateKV({ ...common, keyInput: 'post-rope', sinks: 0, blockSize: 32 })(spec64) as QuantizedCacheLayer, rotation());
      const calibration = KVCalibration.fromSamples({
        kvHeads: 2,
        headDim: D,
        rope: spec64.rope,
        layers: [{ keys: k, values: k, positions: positions(0, n), keyInput: 'post-rope' }],
      });
      const calibrated = calibration.keys(0, 'post-rope');
      const orders = [0, 1].map((h) => outlierAwareOrder(calibrated.subarray(h * n * D, (h + 1) * n * D), n, D, 32));
      const layer = rotateKV({ ...common, keyInput: 'post-rope', sinks: 0, blockSize: 32, calibration })(spec64) as QuantizedCacheLayer;
      expect(layer.memory().parts.rotation).toBe(2 * 2 * 4 * D); // forward and inverse orders, i32, per head
      const reordered = keyError(layer, rotation(orders));
      expect(reordered).toBeLessThan(plain / 2.5);
      expect(reordered).toBeLessThan(natural / 1.5);
    }));

  it('bad configurations are typed errors', () => {
    expect(() => rotateKV({ bits: 5 })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_BIT_WIDTH' }));
    expect(() => rotateKV({ keyInput: 'post-rope', headGroup: 2 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => rotateKV({ blockSize: 12 })(spec)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => rotateKV({ headGroup: 3 })(spec)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => rotateKV({ groupSize: 5 })(spec)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => rotateKV({ keyInput: 'sideways' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
