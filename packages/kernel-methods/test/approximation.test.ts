import { type Matrix, matmulMatrix, matrix } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KernelMatrix, kernelBlock, laplace, matern, Nystroem, type NystroemJSON, RandomFourierFeatures, type RandomFourierFeaturesJSON, rbf } from '../src/index.js';
import { everyNth, fixtures, flat, spam } from './datasets.js';

const xs = everyNth(spam().x, 12);

function relativeKernelError(features: Matrix, exact: Matrix): number {
  const approx = matmulMatrix(features, features, { transposeB: true });
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < exact.data.length; i++) {
    diff += (approx.data[i] - exact.data[i]) ** 2;
    norm += exact.data[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, std: Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) };
}

/**
 * Two means over 10 seeds each agree when they differ by less than 4 standard errors of the
 * difference (plus 5% of the reference for the difference between the two libraries' RNGs).
 */
function expectSameMean(ours: { mean: number; std: number }, ref: { mean: number; std: number }, seeds: number, label: string): void {
  const se = Math.sqrt((ours.std ** 2 + ref.std ** 2) / seeds);
  expect(Math.abs(ours.mean - ref.mean), `${label}: ours ${ours.mean} vs scikit-learn ${ref.mean}`).toBeLessThan(4 * se + 0.05 * ref.mean);
}

describe('Nystroem against scikit-learn (SpamAssassin features)', () => {
  const f = fixtures.nystroemSpam;
  const kernel = rbf({ gamma: f.gamma });
  const exact = new KernelMatrix(kernel, xs).toMatrix();

  it('with scikit-learn\'s landmarks, φ(x)·φ(y) equals its approximation', () => {
    const model = new Nystroem({ kernel, nComponents: f.fixedIndices.length }).fit(xs, { indices: f.fixedIndices });
    const feats = model.transform({ rows: 20, cols: xs.cols, data: xs.data.slice(0, 20 * xs.cols) });
    assertClose(matmulMatrix(feats, feats, { transposeB: true }).data, flat(f.fixedApprox20), 1e-6, 'approximate kernel');
    const loaded = Nystroem.load(JSON.parse(JSON.stringify(model.toJSON())) as NystroemJSON);
    assertClose(loaded.transform(xs).data, model.transform(xs).data, 1e-15, 'loaded');
  });

  it('uniform sampling: the same approximation error as scikit-learn over 10 seeds', () =>
    withSeed((rng) => {
      f.sizes.forEach((m: number, s: number) => {
        const uniform: number[] = [];
        for (let seed = 0; seed < f.seeds; seed++) {
          uniform.push(relativeKernelError(new Nystroem({ kernel, nComponents: m, seed: rng.int(1 << 30) }).fitTransform(xs), exact));
        }
        expectSameMean(meanStd(uniform), { mean: f.errorMean[s], std: f.errorStd[s] }, f.seeds, `m=${m}`);
      });
    }));
});

describe('ridge-leverage landmarks', () => {
  it('find small far-away clusters that uniform sampling misses (lower trace error averaged over 20 samplings)', () =>
    withSeed((rng) => {
      // 400 points in one tight cluster and 8 clusters of 3 points far from it and each other.
      const rows: number[][] = [];
      for (let i = 0; i < 400; i++) rows.push([rng.normal() * 0.3, rng.normal() * 0.3]);
      for (let c = 0; c < 8; c++) for (let i = 0; i < 3; i++) rows.push([10 * Math.cos(c) + 0.05 * rng.normal(), 10 * Math.sin(c) + 0.05 * rng.normal()]);
      const pts = matrix(rows.length, 2, rows.flat());
      const k = rbf({ gamma: 0.5 });
      // Trace error Σᵢ (k(xᵢ, xᵢ) − ‖φ(xᵢ)‖²) / Σᵢ k(xᵢ, xᵢ): every point left unexplained counts.
      const traceError = (phi: Matrix) => {
        let missing = 0;
        for (let i = 0; i < phi.rows; i++) {
          let norm = 0;
          for (let j = 0; j < phi.cols; j++) norm += phi.data[i * phi.cols + j] ** 2;
          missing += 1 - norm;
        }
        return missing / phi.rows;
      };
      // Averaged over 20 samplings: with 10, the ratio leverage/uniform had mean 0.40, sd 0.06 and
      // max 0.57 over 150 seeds, 3.3 sd from the 0.6 bound; 20 shrinks the sd by √2.
      let uniform = 0;
      let leverage = 0;
      for (let seed = 0; seed < 20; seed++) {
        const s = rng.int(1 << 30);
        uniform += traceError(new Nystroem({ kernel: k, nComponents: 20, seed: s }).fitTransform(pts)) / 20;
        leverage += traceError(new Nystroem({ kernel: k, nComponents: 20, sampling: 'ridge-leverage', ridge: 1, seed: s }).fitTransform(pts)) / 20;
      }
      expect(leverage).toBeLessThan(0.6 * uniform);
    }));
});

describe('random Fourier features', () => {
  const f = fixtures.rbfSamplerSpam;
  const kernel = rbf({ gamma: f.gamma });
  const exact = new KernelMatrix(kernel, xs).toMatrix();

  it('Gaussian: the same approximation error as scikit-learn\'s RBFSampler over 10 seeds; orthogonal features are no worse', () =>
    withSeed((rng) => {
      f.sizes.forEach((D: number, s: number) => {
        const iid: number[] = [];
        const orf: number[] = [];
        for (let seed = 0; seed < f.seeds; seed++) {
          iid.push(relativeKernelError(new RandomFourierFeatures({ kernel, nComponents: D, seed: rng.int(1 << 30) }).fitTransform(xs), exact));
          orf.push(relativeKernelError(new RandomFourierFeatures({ kernel, nComponents: D, orthogonal: true, seed: rng.int(1 << 30) }).fitTransform(xs), exact));
        }
        expectSameMean(meanStd(iid), { mean: f.errorMean[s], std: f.errorStd[s] }, f.seeds, `D=${D}`);
        // With scikit-learn's random-offset features the frequency variance is a small part of the
        // total, so orthogonality helps little here: it must not be worse beyond 5 standard errors
        // (the standard error is itself estimated from 10 seeds, so the difference over it is
        // t-distributed: at 3 its slack was 2.4–2.6 sd from failing over 20 seeds, ~1 run in 150).
        const a = meanStd(orf);
        const b = meanStd(iid);
        expect(a.mean).toBeLessThan(b.mean + 5 * Math.sqrt((a.std ** 2 + b.std ** 2) / f.seeds));
      });
    }));

  it('Laplace (Cauchy) and Matérn (Student t) features converge to their kernels', () =>
    withSeed((rng) => {
      const pts = matrix(6, 3, Array.from({ length: 18 }, () => rng.normal()));
      const D = 20000;
      // Each of the D terms of z(x)·z(y) lies in [−2/D, 2/D]: by Hoeffding the error exceeds
      // 2·√(2·ln(2·36/1e-6)/D) ≈ 0.085 with probability < 1e-6 over the 36 pairs.
      for (const k of [laplace({ gamma: 0.7 }), matern({ nu: 1.5, lengthScale: 1.3 }), matern({ nu: 0.8, lengthScale: 2 })]) {
        for (const orthogonal of k.name === 'laplace' ? [false] : [false, true]) {
          const z = new RandomFourierFeatures({ kernel: k, nComponents: D, orthogonal, seed: rng.int(1 << 30) }).fitTransform(pts);
          const approx = matmulMatrix(z, z, { transposeB: true });
          const truth = kernelBlock(k, pts, pts);
          for (let i = 0; i < 36; i++) expect(Math.abs(approx.data[i] - truth.data[i]), `${k.name} ${orthogonal}`).toBeLessThan(0.085);
        }
      }
    }));

  it('round-trips through JSON and refuses kernels without a spectral sampler', () => {
    const model = new RandomFourierFeatures({ kernel, nComponents: 16, seed: 3 }).fit(xs);
    const loaded = RandomFourierFeatures.load(JSON.parse(JSON.stringify(model.toJSON())) as RandomFourierFeaturesJSON);
    assertClose(loaded.transform(xs).data, model.transform(xs).data, 0, 'loaded');
    expect(() => new RandomFourierFeatures({ kernel: matern({ nu: 1.5 }), nComponents: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => new RandomFourierFeatures({ kernel: laplace(), nComponents: 4, orthogonal: true })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => model.transform(matrix(1, 3))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
  });
});
