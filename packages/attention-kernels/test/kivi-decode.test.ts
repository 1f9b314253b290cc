import { attention, randomNormal, setSimdKernels, slice, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { dequantizeKivi, kiviDecodeAttention } from '../src/index.js';
import { gappedPositions, i32 } from './helpers/reference.js';
import { randomKiviView } from './helpers/random-kivi.js';

describe('kiviDecodeAttention (fused dequantization)', () => {
  for (const bits of [2, 4, 8] as const) {
    for (const d of [64, 128]) {
      it(`${bits}-bit, head_dim ${d}: matches dequantizeKivi + the float64 reference, GQA 1/4/8, f32 and f16 scales`, () =>
        withSeed((rng) => {
          const cases = [
            { group: 1, n: 1, residual: 4, groupSize: 32, cap: 0, m: 1 },
            { group: 4, n: 77, residual: 10, groupSize: 32, cap: 3, m: 1 },
            { group: 8, n: 130, residual: 0, groupSize: 16, cap: 0, m: 1 },
            { group: 4, n: 100, residual: 37, groupSize: 24, cap: 2, m: 3 },
            { group: 1, n: 64, residual: 64, groupSize: 32, cap: 0, m: 2 },
          ];
          for (const c of cases) {
            for (const floatDType of ['f32', 'f16'] as const) {
              const kvHeads = 2;
              const positions = gappedPositions(rng, c.n + c.cap);
              const { view } = randomKiviView(rng, { bits, groupSize: c.groupSize, valueGroupSize: 16, kvHeads, headDim: d, length: c.n, residual: c.residual, extraCapacity: c.cap, floatDType, positions });
              const q = randomNormal([kvHeads * c.group, c.m, d], rng);
              const { keys, values } = dequantizeKivi(view);
              const kPos = slice(view.positions, [0], [c.n]);
              const qPos = slice(view.positions, [c.n - c.m], [c.n]);
              const ref = attention(q, keys, values, { keyPositions: kPos, queryPositions: qPos, statistics: true });
              const got = kiviDecodeAttention(q, view, { statistics: true, tileSize: 16, partitionSize: 40 });
              const label = `${bits}-bit ${JSON.stringify(c)} ${floatDType}`;
              assertClose(got.output.readSync(), ref.output.readSync(), 1e-5, `output ${label}`);
              assertClose(got.statistics!.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5, `keySum ${label}`);
              assertClose(got.statistics!.keyMax.readSync(), ref.statistics!.keyMax.readSync(), 1e-5, `keyMax ${label}`);
            }
          }
        }));
    }
  }

  it('codes read in SIMD and tiles dequantized in JavaScript both match: tiles across key groups, off 4-token boundaries, odd value groups, f16 and f32 scales', () =>
    withSeed((rng) => {
      const cases = [
        { bits: 2, groupSize: 10, valueGroupSize: 6, d: 24, n: 93, residual: 20, tileSize: 7, partitionSize: 30, group: 3 },
        { bits: 4, groupSize: 12, valueGroupSize: 8, d: 16, n: 150, residual: 24, tileSize: 37, partitionSize: 64, group: 2 },
        { bits: 8, groupSize: 6, valueGroupSize: 4, d: 20, n: 61, residual: 6, tileSize: 13, partitionSize: 1000, group: 1 },
        { bits: 2, groupSize: 32, valueGroupSize: 32, d: 64, n: 300, residual: 64, tileSize: 64, partitionSize: 96, group: 5 },
      ] as const;
      for (const [index, c] of cases.entries()) {
        const kvHeads = 2;
        const floatDType = index % 2 === 0 ? 'f16' : 'f32';
        const { view } = randomKiviView(rng, { bits: c.bits, groupSize: c.groupSize, valueGroupSize: c.valueGroupSize, kvHeads, headDim: c.d, length: c.n, residual: c.residual, extraCapacity: 1, floatDType });
        const q = randomNormal([kvHeads * c.group, 2, c.d], rng);
        const { keys, values } = dequantizeKivi(view);
        const qPos = slice(view.positions, [c.n - 2], [c.n]);
        const ref = attention(q, keys, values, { keyPositions: slice(view.positions, [0], [c.n]), queryPositions: qPos, statistics: true });
        for (const simd of [true, false]) {
          setSimdKernels(simd);
          try {
            const got = kiviDecodeAttention(q, view, { statistics: true, tileSize: c.tileSize, partitionSize: c.partitionSize });
            const label = `${JSON.stringify(c)} ${floatDType} simd ${simd}`;
            assertClose(got.output.readSync(), ref.output.readSync(), 1e-5, `output ${label}`);
            assertClose(got.statistics!.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5, `keySum ${label}`);
          } finally {
            setSimdKernels(true);
          }
        }
      }
    }));

  it('window, soft-cap, f16 queries and explicit query positions', () =>
    withSeed((rng) => {
      const { view } = randomKiviView(rng, { bits: 2, groupSize: 32, valueGroupSize: 32, kvHeads: 2, headDim: 64, length: 150, residual: 20 });
      const { keys, values } = dequantizeKivi(view);
      const q = randomNormal([8, 1, 64], rng, { dtype: 'f16' });
      for (const options of [{ window: 50 }, { softcap: 3 }, { causal: false, scale: 0.05 }]) {
        const queryPositions = i32(Int32Array.of(160));
        const ref = attention(q, keys, values, { ...options, queryPositions, keyPositions: view.positions });
        const got = kiviDecodeAttention(q, view, { ...options, queryPositions });
        expect(got.output.dtype).toBe('f16');
        assertClose(got.output.readFloat32Sync(), ref.output.readFloat32Sync(), 1e-2, JSON.stringify(options));
      }
    }));

  it('refuses a query that does not fit the cache', () =>
    withSeed((rng) => {
      const { view } = randomKiviView(rng, { bits: 4, groupSize: 8, valueGroupSize: 8, kvHeads: 2, headDim: 16, length: 20, residual: 4 });
      expect(() => kiviDecodeAttention(randomNormal([4, 1, 8], rng), view)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      expect(() => kiviDecodeAttention(randomNormal([3, 1, 16], rng), view)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      expect(() => kiviDecodeAttention(randomNormal([4, 21, 16], rng), view)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      expect(() => kiviDecodeAttention(randomNormal([4, 1, 16], rng), { ...view, bits: 3 as never })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_BIT_WIDTH' }));
      expect(() => kiviDecodeAttention(tensor(new Int32Array(16), [1, 1, 16], { dtype: 'i32' }), view)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    }));
});
