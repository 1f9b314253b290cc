import { type Matrix, matrix, type Rng } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { imq, ksdSquared, ksdTest, mmdSquared, mmdTest, perturbedKsdTest, perturbSample, rbf, steinKernelMatrix } from '../src/index.js';
import { binomialBand } from './binomial.js';

function gaussian(rng: Rng, n: number, d: number, shift = 0): Matrix {
  return matrix(n, d, Array.from({ length: n * d }, () => rng.normal() + shift));
}

describe('MMD', () => {
  it('the unbiased MMD² matches its definition computed directly', () =>
    withSeed((rng) => {
      const x = gaussian(rng, 7, 2);
      const y = gaussian(rng, 5, 2, 0.5);
      const k = rbf({ gamma: 0.7 });
      const kv = (a: Matrix, i: number, b: Matrix, j: number) => Math.exp(-0.7 * ((a.data[2 * i] - b.data[2 * j]) ** 2 + (a.data[2 * i + 1] - b.data[2 * j + 1]) ** 2));
      let xx = 0;
      let yy = 0;
      let xy = 0;
      for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) if (i !== j) xx += kv(x, i, x, j);
      for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) if (i !== j) yy += kv(y, i, y, j);
      for (let i = 0; i < 7; i++) for (let j = 0; j < 5; j++) xy += kv(x, i, y, j);
      expect(mmdSquared(x, y, k)).toBeCloseTo(xx / 42 + yy / 20 - (2 * xy) / 35, 12);
      const result = mmdTest(x, y, { kernel: k, nullSamples: 50, nullSeed: 9 });
      expect(result.statistic).toBeCloseTo(mmdSquared(x, y, k), 12);
      expect(result.nullSamples.length).toBe(50);
      expect(result.seeds).toEqual({ null: 9 });
      // Same null seed, same null samples.
      expect(Array.from(mmdTest(x, y, { kernel: k, nullSamples: 50, nullSeed: 9 }).nullSamples)).toEqual(Array.from(result.nullSamples));
    }));

  it('holds its level under H₀ (200 repetitions, binomial band) and has power against a mean shift', () =>
    withSeed((rng) => {
      const k = rbf({ gamma: 0.5 });
      const reps = 200;
      let rejections = 0;
      for (let r = 0; r < reps; r++) {
        if (mmdTest(gaussian(rng, 25, 2), gaussian(rng, 25, 2), { kernel: k, nullSamples: 99, nullSeed: rng.nextU32() }).rejected) rejections++;
      }
      // A permutation test is exact: rejections ~ Binomial(200, 0.05).
      const band = binomialBand(reps, 0.05);
      expect(rejections).toBeGreaterThanOrEqual(band.lower);
      expect(rejections).toBeLessThanOrEqual(band.upper);
      // The power here is 0.962 (38.5 of 40 over 53 seeds): at least 68 rejections of 80 fails with
      // probability 1e-5 for it, and 84% of the time for a test of power 0.8 (with 34 of 40 it
      // failed 1 run in 1400).
      let power = 0;
      for (let r = 0; r < 80; r++) {
        if (mmdTest(gaussian(rng, 25, 2), gaussian(rng, 25, 2, 1), { kernel: k, nullSamples: 99, nullSeed: rng.nextU32() }).rejected) power++;
      }
      expect(power).toBeGreaterThanOrEqual(68);
    }));
});

describe('kernel Stein discrepancy', () => {
  const standardScore = (x: Matrix): Matrix => ({ rows: x.rows, cols: x.cols, data: x.data.map((v) => -v) });

  it('the closed-form Stein kernel equals its definition by finite differences', () =>
    withSeed((rng) => {
      const x = gaussian(rng, 4, 3);
      // Score of N(m, I) at a shifted mean, so every term of u_p matters.
      const m = [0.3, -0.2, 0.5];
      const score = (p: Matrix): Matrix => ({ rows: p.rows, cols: 3, data: p.data.map((v, i) => m[i % 3] - v) });
      for (const k of [rbf({ gamma: 0.4 }), imq({ c: 1, beta: 0.5 })]) {
        const u = steinKernelMatrix(x, score(x), k);
        const kv = (a: number[], b: number[]) => k.profile(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
        const row = (i: number) => Array.from(x.data.subarray(3 * i, 3 * i + 3));
        const h = 1e-4;
        for (const [i, j] of [[0, 1], [2, 3], [1, 1]]) {
          const a = row(i);
          const b = row(j);
          const sa = a.map((v, t) => m[t] - v);
          const sb = b.map((v, t) => m[t] - v);
          let expected = kv(a, b) * sa.reduce((s, v, t) => s + v * sb[t], 0);
          for (let t = 0; t < 3; t++) {
            const e = (v: number[], dt: number) => v.map((w, q) => (q === t ? w + dt : w));
            const dya = (kv(a, e(b, h)) - kv(a, e(b, -h))) / (2 * h); // ∂k/∂y_t
            const dxa = (kv(e(a, h), b) - kv(e(a, -h), b)) / (2 * h); // ∂k/∂x_t
            const dxy = (kv(e(a, h), e(b, h)) - kv(e(a, h), e(b, -h)) - kv(e(a, -h), e(b, h)) + kv(e(a, -h), e(b, -h))) / (4 * h * h);
            expected += sa[t] * dya + sb[t] * dxa + dxy;
          }
          expect(u[i * 4 + j]).toBeCloseTo(expected, 5);
        }
      }
    }));

  it('holds its level for N(0, I) (200 repetitions) and has power against N(0.6, I)', () =>
    withSeed((rng) => {
      const kernel = imq();
      const reps = 200;
      let rejections = 0;
      for (let r = 0; r < reps; r++) {
        if (ksdTest(gaussian(rng, 40, 2), { kernel, score: standardScore, nullSamples: 99, nullSeed: rng.nextU32() }).rejected) rejections++;
      }
      // The wild bootstrap is asymptotically exact; at n = 40 the band is the binomial one at 0.05.
      const band = binomialBand(reps, 0.05);
      expect(rejections).toBeGreaterThanOrEqual(band.lower);
      expect(rejections).toBeLessThanOrEqual(band.upper);
      let power = 0;
      for (let r = 0; r < 40; r++) {
        if (ksdTest(gaussian(rng, 40, 2, 0.6), { kernel, score: standardScore, nullSamples: 99, nullSeed: rng.nextU32() }).rejected) power++;
      }
      expect(power).toBeGreaterThanOrEqual(32);
      expect(ksdSquared(gaussian(rng, 200, 2, 1), { kernel, score: standardScore })).toBeGreaterThan(ksdSquared(gaussian(rng, 200, 2), { kernel, score: standardScore }));
    }));

  it('perturbation restores power when only the mixture weights differ (the failure case of KSD)', () =>
    withSeed((rng) => {
      // Target: ½N(−3, 1) + ½N(3, 1). Sample: the same modes with weights 0.9 / 0.1.
      const mu = 3;
      const logDensity = (x: Matrix) => x.data.map((v) => Math.log(0.5 * Math.exp(-0.5 * (v + mu) ** 2) + 0.5 * Math.exp(-0.5 * (v - mu) ** 2)));
      const score = (x: Matrix): Matrix => ({
        rows: x.rows,
        cols: 1,
        data: x.data.map((v) => {
          const a = Math.exp(-0.5 * (v + mu) ** 2);
          const b = Math.exp(-0.5 * (v - mu) ** 2);
          return (a * (-mu - v) + b * (mu - v)) / (a + b);
        }),
      }),
      sample = (n: number, w: number) => matrix(n, 1, Array.from({ length: n }, () => (rng.uniform() < w ? -mu : mu) + rng.normal()));
      const kernel = rbf({ gamma: 0.5 });
      let plain = 0;
      let perturbed = 0;
      let perturbedUnderNull = 0;
      // Over 150 seeds at 30 repetitions, perturbed − plain rejections: mean 14.6, sd 2.8 (the bound
      // 0.25·30 failed 3 times). At 60 repetitions that doubles to ~29 against a bound of 12 (4.3 sd).
      const reps = 60;
      // Jumps of 2.5μ, longer than the distance between the modes: under H₀ the flows between the
      // modes balance and the sample stays a sample of p; under the alternative the net flow lands
      // off-centre in the receiving mode, a change of shape the Stein discrepancy does see.
      const options = { kernel, score, logDensity, jumps: [[2.5 * mu]], steps: 3, nullSamples: 99 };
      for (let r = 0; r < reps; r++) {
        const x = sample(60, 0.9);
        if (ksdTest(x, { kernel, score, nullSamples: 99, nullSeed: rng.nextU32() }).rejected) plain++;
        if (perturbedKsdTest(x, { ...options, nullSeed: rng.nextU32(), seed: rng.nextU32() }).rejected) perturbed++;
        if (perturbedKsdTest(sample(60, 0.5), { ...options, nullSeed: rng.nextU32(), seed: rng.nextU32() }).rejected) perturbedUnderNull++;
      }
      expect(perturbed).toBeGreaterThan(plain + reps * 0.2);
      expect(perturbedUnderNull).toBeLessThanOrEqual(binomialBand(reps, 0.05).upper);
      // The perturbation leaves the target invariant: a sample from p keeps its mode weights.
      const fromTarget = perturbSample(sample(4000, 0.5), { logDensity, jumps: [[2 * mu]], steps: 3, seed: 1 });
      const left = fromTarget.data.filter((v) => v < 0).length / 4000;
      expect(Math.abs(left - 0.5)).toBeLessThan(0.04); // 5 standard errors of a proportion at n = 4000
    }));

  it('bad input: score of the wrong shape, non-finite scores, non-radial kernels, bad alpha', () => {
    const x = matrix(5, 2, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(() => ksdTest(x, { kernel: rbf(), score: () => matrix(5, 1) })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => ksdTest(x, { kernel: rbf(), score: (p) => ({ ...p, data: p.data.map(() => NaN) }) })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => ksdTest(x, { kernel: rbf(), score: (p) => p, alpha: 1.5 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => ksdSquared(x, { kernel: { ...rbf(), radial: false } as never, score: (p) => p })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => mmdTest(x, matrix(3, 3), { kernel: rbf() })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => mmdTest(matrix(1, 2), x, { kernel: rbf() })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
