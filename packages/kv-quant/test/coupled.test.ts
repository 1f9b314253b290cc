import { tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { coupledQuant, fitCodebooks, KVCalibration, type QuantizedCacheLayer, uniformQuant } from '../src/index.js';
import { layerSpec, positions, randomArray, referenceAttention } from './helpers.js';

const d = 16;
const spec = layerSpec({ headDim: d, kvHeads: 2, qHeads: 4 });

/** Vectors whose groups of 4 channels lie near one of 16 centres per group: joint codes capture them, independent 1-bit codes cannot. */
function clustered(rng: Parameters<Parameters<typeof withSeed>[0]>[0], n: number, centres: Float32Array): Float32Array {
  const x = new Float32Array(2 * n * d);
  for (let h = 0; h < 2; h++)
    for (let t = 0; t < n; t++)
      for (let g = 0; g < d / 4; g++) {
        const k = rng.int(16);
        for (let j = 0; j < 4; j++) x[(h * n + t) * d + g * 4 + j] = centres[((h * 4 + g) * 16 + k) * 4 + j] + 0.01 * rng.normal();
      }
  return x;
}

describe('coupled quantization', () => {
  it('k-means codebooks recover clustered channel groups; 1 bit per channel then reconstructs them closely', () =>
    withSeed((rng) => {
      const centres = randomArray(rng, 2 * 4 * 16 * 4, 2);
      const calib = clustered(rng, 600, centres);
      const books = fitCodebooks(calib, 2, 600, d, 4, 4, { seed: 3 });
      // Every true centre has a learned centroid next to it.
      for (let hg = 0; hg < 8; hg++)
        for (let k = 0; k < 16; k++) {
          let best = Infinity;
          for (let j = 0; j < 16; j++) {
            let dist = 0;
            for (let c = 0; c < 4; c++) dist += (centres[(hg * 16 + k) * 4 + c] - books[(hg * 16 + j) * 4 + c]) ** 2;
            best = Math.min(best, dist);
          }
          expect(best).toBeLessThan(0.01);
        }
      const calibration = KVCalibration.fromSamples({
        kvHeads: 2,
        headDim: d,
        rope: spec.rope,
        layers: [{ keys: calib, values: calib, positions: positions(0, 600), keyInput: 'post-rope' }],
      });
      const layer = coupledQuant({ calibration, channels: 4, bits: 1, dtype: 'f32', iterations: 30 })(spec) as QuantizedCacheLayer;
      const n = 40;
      const k = clustered(rng, n, centres);
      layer.append(tensor(k, [2, n, d]), tensor(k, [2, n, d]), { positions: positions(0, n), phase: 'prefill' });
      const decoded = layer.values.decode().readFloat32Sync();
      const err = decoded.reduce((s, v, i) => s + (v - k[i]) ** 2, 0) / decoded.length;
      expect(err).toBeLessThan(0.01);
      // Independent 1-bit codes (uniform, per token) cannot: at least 10× the error.
      const uniform = uniformQuant({ bits: 1, groupSize: 4, dtype: 'f32' })(spec) as QuantizedCacheLayer;
      uniform.append(tensor(k, [2, n, d]), tensor(k, [2, n, d]), { positions: positions(0, n), phase: 'prefill' });
      const u = uniform.values.decode().readFloat32Sync();
      expect(u.reduce((s, v, i) => s + (v - k[i]) ** 2, 0) / u.length).toBeGreaterThan(10 * err);
      // 1 bit per channel: 4 bits of code per group of 4 channels → d/4 codes in ⌈(d/4)/8⌉ words per token and head.
      expect(layer.memory().parts.codes).toBe(2 * 2 * n * 4);
      expect(layer.memory().parts.codebooks).toBe(2 * 2 * 4 * 16 * 4 * 4);
      // Attention reads the decoded codes.
      const q = randomArray(rng, 4 * d);
      const out = layer.attend(tensor(q, [4, 1, d]), { positions: Int32Array.of(n) }).output.readSync();
      assertClose(
        out,
        referenceAttention(q, layer.keys.decode().readSync(), decoded, { qHeads: 4, kvHeads: 2, m: 1, n, d }, [n], positions(0, n)).out,
        1e-5
      );
    }));

  it('bad configurations are typed errors', () =>
    withSeed((rng) => {
      const calibration = KVCalibration.fromSamples({
        kvHeads: 2,
        headDim: d,
        rope: spec.rope,
        layers: [{ keys: randomArray(rng, 2 * 40 * d), values: randomArray(rng, 2 * 40 * d), positions: positions(0, 40) }],
      });
      expect(() => coupledQuant(undefined as never)).toThrow(expect.objectContaining({ name: 'CalibrationRequiredError' }));
      expect(() => coupledQuant({ calibration, channels: 3, bits: 2 })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_BIT_WIDTH' }));
      expect(() => coupledQuant({ calibration, channels: 3, bits: 1 })(spec)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => coupledQuant({ calibration })({ ...spec, layerIndex: 3 })).toThrow(expect.objectContaining({ name: 'CalibrationRequiredError' }));
      expect(() => coupledQuant({ calibration, keyInput: 'pre' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});
