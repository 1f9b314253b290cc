import { type Matrix, tensor } from '@kvkit/tensor-core';
import { relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import {
  KVCalibrationSet,
  blockHadamard,
  capturedEnergy,
  fitEigenAttention,
  fitPalu,
  fitProjections,
  paluFactors,
  rankForEnergy,
  rotateBasis,
} from '../src/index.js';
import { backend, lowRankRows, randomMatrix, randomValues, specOf, syntheticCalibration } from './helpers.js';

/** Rows of head h of [heads, n, d] samples, float64. */
function headRows(samples: Float32Array, h: number, n: number, d: number): number[][] {
  return Array.from({ length: n }, (_, t) => Array.from(samples.subarray((h * n + t) * d, (h * n + t + 1) * d)));
}

/** Σ_t ‖Pᵀ x_t‖² over rows, with P's first r columns — direct float64 loops. */
function projectedEnergy(rows: number[][], basis: Matrix, r: number): number {
  let sum = 0;
  for (const x of rows) {
    for (let j = 0; j < r; j++) {
      let dot = 0;
      for (let i = 0; i < x.length; i++) dot += basis.data[i * basis.cols + j] * x[i];
      sum += dot * dot;
    }
  }
  return sum;
}

function orthonormalityError(basis: Matrix): number {
  let worst = 0;
  for (let a = 0; a < basis.cols; a++) {
    for (let b = 0; b < basis.cols; b++) {
      let dot = 0;
      for (let i = 0; i < basis.rows; i++) dot += basis.data[i * basis.cols + a] * basis.data[i * basis.cols + b];
      worst = Math.max(worst, Math.abs(dot - (a === b ? 1 : 0)));
    }
  }
  return worst;
}

describe('PCA bases', () => {
  it('are orthonormal, their spectrum is the energy along each direction, and captured energy matches Σ top λ / Σ λ', () =>
    withSeed((rng) => {
      const spec = specOf({ headDim: 8 });
      const set = new KVCalibrationSet({ ...spec, maxTokens: 50 });
      for (let l = 0; l < 2; l++) {
        const noisy = Float32Array.from(randomValues(rng, 2 * 50 * 8), (x, i) => x * (1 + (i % 8)));
        set.add({ layerIndex: l, key: tensor(noisy, [2, 50, 8], { backend }), value: tensor(randomValues(rng, 800), [2, 50, 8], { backend }) });
      }
      const projections = fitProjections(set);
      const rows = headRows(set.samples(1, 'key'), 1, 50, 8);
      const group = projections.key.layers[1][1];
      expect(orthonormalityError(group.basis)).toBeLessThan(1e-12);
      const total = rows.reduce((s, x) => s + x.reduce((a, v) => a + v * v, 0), 0);
      expect(group.totalEnergy).toBeCloseTo(total / 50, 10);
      for (let i = 0; i < 8; i++) {
        // λ_i = ‖X p_i‖² / n, and the eigenvalues come sorted.
        const along = projectedEnergy(rows, { rows: 8, cols: 1, data: Float64Array.from({ length: 8 }, (_, r) => group.basis.data[r * 8 + i]) }, 1) / 50;
        expect(group.spectrum[i]).toBeCloseTo(along, 9);
        if (i > 0) expect(group.spectrum[i]).toBeLessThanOrEqual(group.spectrum[i - 1]);
      }
      for (const r of [0, 1, 3, 8]) expect(capturedEnergy(group, r)).toBeCloseTo(projectedEnergy(rows, group.basis, r) / total, 12);
      expect(rankForEnergy(group, capturedEnergy(group, 3))).toBe(3);
      expect(rankForEnergy(group, 1)).toBeLessThanOrEqual(8);
    }));

  it('recover known low-rank data exactly: rank r keeps all the energy and spans the generating subspace', () =>
    withSeed((rng) => {
      const set = new KVCalibrationSet({ numLayers: 1, qHeads: 2, kvHeads: 2, headDim: 12, maxTokens: 40 });
      const keys = lowRankRows(rng, 2, 40, 12, 3);
      set.add({ layerIndex: 0, key: tensor(keys.data, [2, 40, 12], { backend }), value: tensor(lowRankRows(rng, 2, 40, 12, 5).data, [2, 40, 12], { backend }) });
      const projections = fitProjections(set);
      for (let h = 0; h < 2; h++) {
        const group = projections.key.layers[0][h];
        expect(capturedEnergy(group, 3)).toBeGreaterThan(1 - 1e-12);
        expect(capturedEnergy(group, 2)).toBeLessThan(1 - 1e-3);
        // The generating basis B lies in span(P_3): ‖P_3ᵀ B‖_F² = 3.
        const b = keys.bases[h];
        let inside = 0;
        for (let a = 0; a < 3; a++) {
          for (let c = 0; c < 3; c++) {
            let dot = 0;
            for (let i = 0; i < 12; i++) dot += group.basis.data[i * 12 + a] * b.data[i * 3 + c];
            inside += dot * dot;
          }
        }
        expect(inside).toBeCloseTo(3, 10);
      }
      expect(capturedEnergy(projections.value.layers[0][0], 5)).toBeGreaterThan(1 - 1e-12);
    }));

  it("Eigen Attention's key basis diagonalizes the unit-trace key moment plus the unit-trace query moment", () =>
    withSeed((rng) => {
      const spec = specOf();
      const { set } = syntheticCalibration(rng, spec, 30, 3);
      const projections = fitEigenAttention(set);
      expect(projections.key.source).toBe('keys-queries');
      const d = 8;
      const keyRows = headRows(set.samples(0, 'key'), 1, 30, d);
      const queries = set.samples(0, 'query');
      const queryRows = [...headRows(queries, 2, 30, d), ...headRows(queries, 3, 30, d)];
      const moment = (rows: number[][]) => {
        const m = new Float64Array(d * d);
        for (const x of rows) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) m[i * d + j] += x[i] * x[j];
        let trace = 0;
        for (let i = 0; i < d; i++) trace += m[i * d + i];
        return m.map((v) => v / trace);
      };
      const k = moment(keyRows);
      const q = moment(queryRows);
      const group = projections.key.layers[0][1];
      for (let c = 0; c < d; c++) {
        const p = Array.from({ length: d }, (_, i) => group.basis.data[i * d + c]);
        for (let i = 0; i < d; i++) {
          let mp = 0;
          for (let j = 0; j < d; j++) mp += (k[i * d + j] + q[i * d + j]) * p[j];
          expect(mp).toBeCloseTo(group.spectrum[c] * p[i], 10);
        }
      }
    }));

  it('take the randomized path for large groups and agree with the exact eigenvalues', () =>
    withSeed((rng) => {
      const set = new KVCalibrationSet({ numLayers: 1, qHeads: 4, kvHeads: 4, headDim: 64, maxTokens: 300 });
      const data = new Float32Array(4 * 300 * 64);
      for (let i = 0; i < data.length; i++) data[i] = rng.normal() * Math.exp(-(i % 64) / 6);
      set.add({ layerIndex: 0, key: tensor(data, [4, 300, 64], { backend }), value: tensor(data, [4, 300, 64], { backend }) });
      const exact = fitProjections(set, { keyGroupSize: 4 }).key.layers[0][0];
      const sketched = fitProjections(set, { keyGroupSize: 4, maxRank: 16, seed: 3 }).key.layers[0][0];
      expect(sketched.basis.cols).toBe(16);
      expect(sketched.totalEnergy).toBeCloseTo(exact.totalEnergy, 9);
      expect(relativeError(sketched.spectrum.subarray(0, 8), exact.spectrum.subarray(0, 8))).toBeLessThan(1e-6);
      expect(orthonormalityError(sketched.basis)).toBeLessThan(1e-10);
    }));

  it('reject bad fit options with typed errors', () =>
    withSeed((rng) => {
      const { set } = syntheticCalibration(rng, specOf(), 10, 2);
      const bad: [() => unknown, string][] = [
        [() => fitProjections(set, { keyGroupSize: 3 }), 'INVALID_CONFIG'],
        [() => fitProjections(set, { valueGroupSize: 0 }), 'INVALID_CONFIG'],
        [() => fitProjections(set, { keys: 'keys-queries', keyGroupSize: 2 }), 'INVALID_CONFIG'],
        [() => fitProjections(set, { keys: 'nonsense' as 'weights' }), 'INVALID_CONFIG'],
        [() => fitProjections(set, { values: 'nonsense' as 'values' }), 'INVALID_CONFIG'],
        [() => fitProjections(set, { maxRank: 9 }), 'INVALID_CONFIG'],
        [() => fitProjections(set, { keys: 'weights' }), 'INVALID_CONFIG'],
        [() => capturedEnergy(fitProjections(set).key.layers[0][0], 9), 'INVALID_CONFIG'],
        [() => rankForEnergy(fitProjections(set).key.layers[0][0], 0), 'INVALID_CONFIG'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
    }));
});

describe("Palu's weight SVD", () => {
  it('factors reproduce W at full rank and give the Eckart–Young error at rank r', () =>
    withSeed((rng) => {
      const w = randomMatrix(rng, 16, 24);
      const full = paluFactors(w, 16);
      const product = (up: Matrix, down: Matrix) =>
        Float64Array.from({ length: 16 * 24 }, (_, x) => {
          const i = Math.floor(x / 24);
          const j = x % 24;
          let s = 0;
          for (let p = 0; p < up.cols; p++) s += up.data[i * up.cols + p] * down.data[p * 24 + j];
          return s;
        });
      expect(relativeError(product(full.up, full.down), w.data)).toBeLessThan(1e-12);
      const { set } = syntheticCalibration(rng, specOf(), 8, 2);
      for (const layer of [0, 1]) set.setWeights(layer, { k: w, v: w });
      const group = fitPalu(set, { groupSize: 2 }).key.layers[0][0];
      const r = 5;
      const approx = product(paluFactors(w, r).up, paluFactors(w, r).down);
      let err = 0;
      for (let i = 0; i < approx.length; i++) err += (approx[i] - w.data[i]) ** 2;
      let tail = 0;
      for (let i = r; i < group.spectrum.length; i++) tail += group.spectrum[i];
      expect(err).toBeCloseTo(tail, 8);
      // The fitted basis holds the left singular vectors: W Wᵀ u = σ² u.
      for (let c = 0; c < 16; c++) {
        for (let i = 0; i < 16; i++) {
          let wwu = 0;
          for (let j = 0; j < 16; j++) {
            let wwt = 0;
            for (let p = 0; p < 24; p++) wwt += w.data[i * 24 + p] * w.data[j * 24 + p];
            wwu += wwt * group.basis.data[j * 16 + c];
          }
          expect(wwu).toBeCloseTo(group.spectrum[c] * group.basis.data[i * 16 + c], 8);
        }
      }
      expect(group.totalEnergy).toBeCloseTo(w.data.reduce((s, x) => s + x * x, 0), 9);
      expect(() => paluFactors(w, 17)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});

/** The smallest power of two in r's binary expansion: the last block of the block Hadamard matrix. */
const lowestBlock = (r: number) => r & -r;

describe('Hadamard rotation', () => {
  it('is orthonormal with ±1/√block entries for any size, and keeps the subspace', () =>
    withSeed((rng) => {
      for (const r of [1, 2, 3, 7, 8, 48, 64]) {
        const h = blockHadamard(r);
        expect(orthonormalityError(h)).toBeLessThan(1e-12);
        const block = 1 << Math.floor(Math.log2(r));
        expect(Math.abs(h.data[0])).toBeCloseTo(1 / Math.sqrt(block), 14);
        expect(Math.abs(h.data[r * r - 1])).toBeCloseTo(1 / Math.sqrt(r - 2 ** Math.floor(Math.log2(r)) === 0 ? block : lowestBlock(r)), 14);
      }
      const full = fitProjections(syntheticCalibration(rng, specOf(), 20, 3).set).key.layers[0][0].basis;
      const p = { rows: 8, cols: 3, data: Float64Array.from({ length: 24 }, (_, x) => full.data[Math.floor(x / 3) * 8 + (x % 3)]) };
      const rotated = rotateBasis(p);
      expect(orthonormalityError(rotated)).toBeLessThan(1e-12);
      const projector = (b: Matrix) =>
        Float64Array.from({ length: b.rows * b.rows }, (_, x) => {
          let s = 0;
          for (let c = 0; c < b.cols; c++) s += b.data[Math.floor(x / b.rows) * b.cols + c] * b.data[(x % b.rows) * b.cols + c];
          return s;
        });
      expect(relativeError(projector(rotated), projector(p))).toBeLessThan(1e-12);
      expect(() => blockHadamard(0)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});
