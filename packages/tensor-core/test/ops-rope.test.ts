import { describe, expect, it } from 'vitest';
import { assign, parseRopeScaling, rope, ropeAttentionFactor, ropeInverseFrequencies, tensor } from '../src/index.js';
import { assertClose, withSeed } from '../src/testing/index.js';
import { f32Values, randomArray } from './reference.js';

/** Rotary embedding straight from RoFormer's definition, with the angle rounded to f32 as HF does. */
function ropeRef(x: Float64Array, heads: number, n: number, d: number, pos: number[], inv: ArrayLike<number>, layout: 'half' | 'interleaved'): Float64Array {
  const out = Float64Array.from(x);
  const r = inv.length;
  for (let h = 0; h < heads; h++)
    for (let t = 0; t < n; t++)
      for (let i = 0; i < r; i++) {
        const angle = Math.fround(pos[t] * inv[i]);
        const c = Math.fround(Math.cos(angle));
        const s = Math.fround(Math.sin(angle));
        const base = (h * n + t) * d;
        const [a, b] = layout === 'half' ? [base + i, base + i + r] : [base + 2 * i, base + 2 * i + 1];
        out[a] = x[a] * c - x[b] * s;
        out[b] = x[b] * c + x[a] * s;
      }
  return out;
}

describe('rope', () => {
  it('rotates pairs in both HF layouts, with partial rotary dims and arbitrary positions', () =>
    withSeed((rng) => {
      for (const layout of ['half', 'interleaved'] as const) {
        for (const [d, rot] of [[64, 64], [16, 8], [6, 2]]) {
          const heads = 3;
          const n = 5;
          const x = f32Values(randomArray(rng, heads * n * d));
          const pos = [0, 1, 7, 300, 2047];
          const inv = ropeInverseFrequencies(rot, 10000);
          const out = rope(tensor(x, [heads, n, d]), tensor(pos, [n], { dtype: 'i32' }), tensor(inv, [rot / 2]), layout);
          assertClose(out.readSync(), ropeRef(x, heads, n, d, pos, inv, layout), 1e-6, `${layout} d=${d} r=${rot}`);
        }
      }
    }));

  // The CPU keeps its last cos/sin table while positions and frequencies stay the same (every layer
  // rotates at the same positions): a call after another at other positions, or after the positions
  // tensor was written in place, or with other frequencies, must give that call's rotation.
  it('gives each call its own rotation when calls alternate positions, frequencies, and positions written in place', () =>
    withSeed((rng) => {
      const [heads, n, d] = [2, 6, 16];
      const x = f32Values(randomArray(rng, heads * n * d));
      const inv = [ropeInverseFrequencies(d, 10000), ropeInverseFrequencies(d, 500000)];
      const positions = [[0, 1, 2, 3, 4, 5], [10, 11, 12, 13, 14, 15], [0, 1, 2, 3, 4, 6]];
      const held = tensor(positions[0], [n], { dtype: 'i32' });
      for (const [p, f] of [[0, 0], [0, 0], [1, 0], [0, 0], [2, 0], [2, 1], [0, 1], [0, 0]]) {
        const pos = positions[p];
        const out = rope(tensor(x, [heads, n, d]), tensor(pos, [n], { dtype: 'i32' }), tensor(inv[f], [d / 2]), 'half');
        expect(Array.from(out.readSync()), `positions ${p}, frequencies ${f}`).toEqual(Array.from(Float32Array.from(ropeRef(x, heads, n, d, pos, inv[f], 'half'))));
      }
      const rotate = () => rope(tensor(x, [heads, n, d]), held, tensor(inv[0], [d / 2]), 'half').readSync();
      expect(Array.from(rotate())).toEqual(Array.from(Float32Array.from(ropeRef(x, heads, n, d, positions[0], inv[0], 'half'))));
      assign(held, tensor(positions[1], [n], { dtype: 'i32' }));
      expect(Array.from(rotate())).toEqual(Array.from(Float32Array.from(ropeRef(x, heads, n, d, positions[1], inv[0], 'half'))));
    }));

  it('preserves norms of each rotated pair and is the identity at position 0', () =>
    withSeed((rng) => {
      const x = f32Values(randomArray(rng, 2 * 32));
      const inv = ropeInverseFrequencies(32, 500000);
      const out = rope(tensor(x, [2, 32]), tensor([0, 123], [2], { dtype: 'i32' }), tensor(inv, [16])).readSync();
      assertClose(out.subarray(0, 32), x.subarray(0, 32), 1e-7);
      for (let i = 0; i < 16; i++) {
        const before = Math.hypot(x[32 + i], x[48 + i]);
        expect(Math.hypot(out[32 + i], out[48 + i])).toBeCloseTo(before, 5);
      }
    }));

  it('computes the inverse frequencies of every scaling type from their definitions', () => {
    const d = 64;
    const theta = 10000;
    const plain = Array.from({ length: d / 2 }, (_, i) => 1 / theta ** ((2 * i) / d));
    assertClose(ropeInverseFrequencies(d, theta), plain, 1e-6, 'default');
    assertClose(ropeInverseFrequencies(d, theta, { type: 'linear', factor: 4 }), plain.map((f) => f / 4), 1e-6, 'linear');
    const ntkBase = theta * 8 ** (d / (d - 2));
    assertClose(ropeInverseFrequencies(d, theta, { type: 'ntk', factor: 8 }), plain.map((_, i) => 1 / ntkBase ** ((2 * i) / d)), 1e-6, 'ntk');
    // Llama 3.1: wavelengths longer than 8192/1 scaled by 1/8, shorter than 8192/4 untouched, a linear blend in between.
    const llama = ropeInverseFrequencies(128, 500000, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    const base = Array.from({ length: 64 }, (_, i) => 1 / 500000 ** ((2 * i) / 128));
    base.forEach((f, i) => {
      const wavelen = (2 * Math.PI) / f;
      let expected = f;
      if (wavelen > 8192) expected = f / 8;
      else if (wavelen >= 2048) {
        const smooth = (8192 / wavelen - 1) / 3;
        expected = (1 - smooth) * (f / 8) + smooth * f;
      }
      expect(Math.abs(llama[i] - expected) / expected).toBeLessThan(1e-6);
    });
  });

  // YaRN as transformers, vLLM and TGI discretize the paper's ramp: over frequency indices between
  // the dims that turn beta_fast and beta_slow times over the original context, rounded outwards.
  it('computes YaRN frequencies and attention factor from their definition', () => {
    const [d, theta, factor, original] = [128, 1e6, 4, 32768];
    const dimFor = (rotations: number) => (d * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
    const [low, high] = [Math.max(0, Math.floor(dimFor(32))), Math.min(d - 1, Math.ceil(dimFor(1)))];
    expect(low).toBeGreaterThan(0);
    expect(high).toBeLessThan(d / 2);
    const expected = Array.from({ length: d / 2 }, (_, i) => {
      const kept = 1 - Math.min(1, Math.max(0, (i - low) / (high - low)));
      const f = theta ** (-(2 * i) / d);
      return (f / factor) * (1 - kept) + f * kept;
    });
    const scaling = parseRopeScaling({ rope_type: 'yarn', factor, original_max_position_embeddings: original });
    expect(scaling).toMatchObject({ type: 'yarn', betaFast: 32, betaSlow: 1, truncate: true });
    assertClose(ropeInverseFrequencies(d, theta, scaling), expected, 1e-6, 'yarn');
    expect(ropeAttentionFactor(scaling)).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    // The original context defaults to max_position_embeddings; DeepSeek's mscale pair is a ratio.
    expect(parseRopeScaling({ type: 'yarn', factor: 2 }, { maxPositionEmbeddings: 4096 })).toMatchObject({ originalMaxPositionEmbeddings: 4096 });
    const deepseek = parseRopeScaling({ type: 'yarn', factor: 40, mscale: 1, mscale_all_dim: 0.5, original_max_position_embeddings: 4096 });
    expect(ropeAttentionFactor(deepseek)).toBeCloseTo((0.1 * Math.log(40) + 1) / (0.05 * Math.log(40) + 1), 12);
    expect(ropeAttentionFactor(parseRopeScaling({ type: 'yarn', factor: 4, attention_factor: 1.25, original_max_position_embeddings: 64 }))).toBe(1.25);
    expect(() => parseRopeScaling({ type: 'yarn', factor: 4 })).toThrow(/original_max_position_embeddings/);
  });

  it('computes LongRoPE frequencies, short within the original context and long beyond it, and its attention factor', () => {
    const [d, theta] = [12, 10000];
    const shortFactor = [1, 1.5, 2, 3, 5, 8];
    const longFactor = [1, 2, 4, 8, 16, 32];
    // Phi-3 keeps original_max_position_embeddings beside max_position_embeddings, outside rope_scaling.
    const scaling = parseRopeScaling({ type: 'longrope', short_factor: shortFactor, long_factor: longFactor }, { maxPositionEmbeddings: 131072, originalMaxPositionEmbeddings: 4096 });
    expect(ropeAttentionFactor(scaling)).toBeCloseTo(Math.sqrt(1 + Math.log(32) / Math.log(4096)), 12);
    const expected = (factors: number[]) => factors.map((f, i) => 1 / (f * theta ** ((2 * i) / d)));
    assertClose(ropeInverseFrequencies(d, theta, scaling), expected(shortFactor), 1e-6, 'no length: short');
    assertClose(ropeInverseFrequencies(d, theta, scaling, 4096), expected(shortFactor), 1e-6, 'at the original context: short');
    assertClose(ropeInverseFrequencies(d, theta, scaling, 4097), expected(longFactor), 1e-6, 'beyond: long');
    // Without the two lengths, rope_scaling's own factor (default 1: no attention scaling).
    expect(ropeAttentionFactor(parseRopeScaling({ type: 'longrope', short_factor: [1], long_factor: [2], original_max_position_embeddings: 64 }))).toBe(1);
    expect(() => ropeInverseFrequencies(8, theta, scaling)).toThrow(/short_factor has 6 entries; a rotary dimension of 8 needs 4/);
    expect(() => parseRopeScaling({ type: 'longrope', short_factor: [1, 'x'], long_factor: [1, 2] }, { maxPositionEmbeddings: 64 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(/short_factor/) }),
    );
  });

  it('computes dynamic NTK frequencies: plain within the original context, the base grown with the length a pass reaches beyond it', () => {
    const [d, theta, factor, original] = [16, 10000, 4, 64];
    const scaling = parseRopeScaling({ rope_type: 'dynamic', factor }, { maxPositionEmbeddings: original });
    expect(scaling).toEqual({ type: 'dynamic', factor, originalMaxPositionEmbeddings: original });
    expect(ropeAttentionFactor(scaling)).toBe(1);
    // transformers' _compute_dynamic_ntk_parameters, in float64.
    const expected = (length: number) => {
      const base = length > original ? theta * ((factor * length) / original - (factor - 1)) ** (d / (d - 2)) : theta;
      return Array.from({ length: d / 2 }, (_, i) => 1 / base ** ((2 * i) / d));
    };
    for (const length of [0, 1, 64]) assertClose(ropeInverseFrequencies(d, theta, scaling, length), expected(length), 1e-6, `length ${length}: plain`);
    for (const length of [65, 100, 1000]) assertClose(ropeInverseFrequencies(d, theta, scaling, length), expected(length), 1e-6, `length ${length}: grown`);
    // A scaling's own original context wins over max_position_embeddings.
    expect(parseRopeScaling({ type: 'dynamic', factor: 2, original_max_position_embeddings: 32 }, { maxPositionEmbeddings: 64 })).toMatchObject({ originalMaxPositionEmbeddings: 32 });
    expect(() => parseRopeScaling({ type: 'dynamic', factor: 0 }, { maxPositionEmbeddings: 64 })).toThrow(/factor/);
    expect(() => parseRopeScaling({ type: 'dynamic', factor: 2 })).toThrow(/original_max_position_embeddings/);
  });

  it('parses HF rope_scaling and refuses unknown types with the supported list', () => {
    expect(parseRopeScaling(null)).toEqual({ type: 'default' });
    expect(parseRopeScaling({ type: 'linear', factor: 2 })).toEqual({ type: 'linear', factor: 2 });
    expect(parseRopeScaling({ rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 }).type).toBe('llama3');
    expect(() => parseRopeScaling({ rope_type: 'mrope', factor: 4 })).toThrow(/not supported; supported: default, linear, ntk, dynamic, llama3, yarn, longrope/);
    expect(() => parseRopeScaling({ rope_type: 'linear' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => parseRopeScaling({ rope_type: 'yarn', factor: -1, original_max_position_embeddings: 64 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });

  it('rejects bad positions, frequencies and dtypes', () => {
    const x = tensor(new Float32Array(8), [2, 4]);
    const inv = tensor(ropeInverseFrequencies(4, 10000), [2]);
    expect(() => rope(x, tensor([0], [1], { dtype: 'i32' }), inv)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => rope(x, tensor([0, 1], [2]), inv)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    expect(() => rope(x, tensor([0, 1], [2], { dtype: 'i32' }), tensor(new Float32Array(3), [3]))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => ropeInverseFrequencies(5, 10000)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
