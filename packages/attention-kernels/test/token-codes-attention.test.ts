import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { attention, createRng, randomNormal, tensor, toBackend } from '@kvkit/tensor-core';
import { createCudaBackend } from '@kvkit/tensor-core/cuda';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { attentionStatistics, decodeAttention, flashAttention, type TokenCodesInput } from '../src/index.js';
import { gappedPositions, i32, probabilities } from './helpers/reference.js';
import { randomTokenCodes } from './helpers/random-token-codes.js';

const f32 = (data: Float32Array, shape: number[]) => tensor(data, shape, { dtype: 'f32' });

describe('decodeAttention / flashAttention over per-token codes ({ codes: TokenCodes })', () => {
  for (const bits of [2, 3, 4, 8]) {
    for (const groupSize of [32, 64]) {
      it(`${bits}-bit, groups of ${groupSize}: output and keySum/keyMax match the reference attention on the dequantized K/V`, () =>
        withSeed((rng) => {
          const cases = [
            { kvHeads: 2, group: 4, n: 77, m: 1, d: 64, oneHead: false, op: 'decode' },
            { kvHeads: 1, group: 2, n: 130, m: 3, d: 128, oneHead: true, op: 'decode' },
            { kvHeads: 2, group: 1, n: 1, m: 1, d: 64, oneHead: false, op: 'decode' },
            { kvHeads: 2, group: 2, n: 45, m: 40, d: 64, oneHead: false, op: 'flash' },
            { kvHeads: 1, group: 4, n: 70, m: 9, d: 64, oneHead: true, op: 'flash' },
          ] as const;
          for (const c of cases) {
            for (const paramDType of ['f32', 'f16'] as const) {
              const shape = { kvHeads: c.kvHeads, n: c.n, dim: c.d, bits, groupSize, paramDType, oneHead: c.oneHead, spareRows: 5 };
              const k = randomTokenCodes(rng, shape);
              const v = randomTokenCodes(rng, shape);
              const q = randomNormal([c.kvHeads * c.group, c.m, c.d], rng);
              const kPos = gappedPositions(rng, c.n);
              const qPos = c.op === 'decode' ? Int32Array.from({ length: c.m }, (_, i) => kPos[c.n - 1] + i) : kPos.slice(c.n - c.m);
              const ref = attention(q, f32(k.dequantized, [c.kvHeads, c.n, c.d]), f32(v.dequantized, [c.kvHeads, c.n, c.d]), {
                keyPositions: i32(kPos),
                queryPositions: i32(qPos),
                statistics: true,
              });
              const options = { keyPositions: kPos, queryPositions: qPos, statistics: true, tileSize: 16, partitionSize: 40, queryBlock: 4 };
              const got = c.op === 'decode' ? decodeAttention(q, k.input, v.input, options) : flashAttention(q, k.input, v.input, options);
              const label = `${JSON.stringify(c)} ${paramDType}`;
              expect(got.output.shape).toEqual([c.kvHeads * c.group, c.m, c.d]);
              assertClose(got.output.readSync(), ref.output.readSync(), 1e-5, `output ${label}`);
              assertClose(got.statistics!.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5, `keySum ${label}`);
              assertClose(got.statistics!.keyMax.readSync(), ref.statistics!.keyMax.readSync(), 1e-5, `keyMax ${label}`);
            }
          }
        }));
    }
  }

  it('masks: sliding window, soft-cap, non-causal with a scale, log weights; f16 queries', () =>
    withSeed((rng) => {
      const n = 150;
      const d = 64;
      const k = randomTokenCodes(rng, { kvHeads: 2, n, dim: d, bits: 4, groupSize: 32 });
      const v = randomTokenCodes(rng, { kvHeads: 2, n, dim: d, bits: 2, groupSize: 64 }); // keys and values may differ
      const keys = f32(k.dequantized, [2, n, d]);
      const values = f32(v.dequantized, [2, n, d]);
      const kPos = gappedPositions(rng, n);
      const logWeights = Float32Array.from({ length: 2 * n }, () => Math.log(1 + rng.int(3)));
      for (const op of [decodeAttention, flashAttention]) {
        for (const mask of [{ window: 50 }, { softcap: 3 }, { causal: false, scale: 0.05 }]) {
          const m = op === decodeAttention ? 2 : 12;
          const qPos = kPos.slice(n - m);
          const q = randomNormal([4, m, d], rng);
          const p = probabilities(q, keys, { qPos, kPos, ...mask, logWeights });
          const ref = attention(q, keys, values, { keyPositions: i32(kPos), queryPositions: i32(qPos), ...mask });
          const got = op(q, k.input, v.input, { ...mask, keyPositions: kPos, queryPositions: qPos, keyLogWeights: f32(logWeights, [2, n]), tileSize: 32 });
          // The float64 definition with log weights (the reference attention has none).
          const expected = new Float64Array(4 * m * d);
          const vv = values.readFloat32Sync();
          for (let h = 0; h < 4; h++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let c = 0; c < d; c++) expected[(h * m + i) * d + c] += p[h][i][j] * vv[(Math.floor(h / 2) * n + j) * d + c];
          assertClose(got.output.readSync(), expected, 1e-5, `${op.name} ${JSON.stringify(mask)} with log weights`);
          const plain = op(q, k.input, v.input, { ...mask, keyPositions: kPos, queryPositions: qPos });
          assertClose(plain.output.readSync(), ref.output.readSync(), 1e-5, `${op.name} ${JSON.stringify(mask)}`);
        }
      }
      const q16 = randomNormal([4, 1, d], rng, { dtype: 'f16' });
      const ref = attention(q16, keys, values, { keyPositions: i32(kPos), queryPositions: i32(Int32Array.of(kPos[n - 1])) });
      const got = decodeAttention(q16, k.input, v.input, { keyPositions: kPos, queryPositions: Int32Array.of(kPos[n - 1]) });
      expect(got.output.dtype).toBe('f16');
      assertClose(got.output.readFloat32Sync(), ref.output.readFloat32Sync(), 1e-2, 'f16 queries');
    }));

  it('observations: a window of last queries with weights and probability rows, and attentionStatistics, match the float64 definition', () =>
    withSeed((rng) => {
      const n = 90;
      const d = 64;
      const m = 12;
      const k = randomTokenCodes(rng, { kvHeads: 1, n, dim: d, bits: 3, groupSize: 32, oneHead: true, spareRows: 7 });
      const v = randomTokenCodes(rng, { kvHeads: 1, n, dim: d, bits: 4, groupSize: 32, oneHead: true, spareRows: 7 });
      const keys = f32(k.dequantized, [1, n, d]);
      const kPos = gappedPositions(rng, n);
      const qPos = kPos.slice(n - m);
      const q = randomNormal([2, m, d], rng);
      const window = 5;
      const weights = [0.1, 0.2, 0.3, 0.5, 1];
      const stats = { window, weights, rowProbabilities: 2 };
      const p = probabilities(q, keys, { qPos, kPos });
      const sum = new Float64Array(2 * n);
      const max = new Float64Array(2 * n);
      const rowsOut = new Float64Array(2 * 2 * n);
      for (let h = 0; h < 2; h++) {
        for (let w = 0; w < window; w++) {
          const i = m - window + w;
          for (let j = 0; j < n; j++) {
            sum[h * n + j] += weights[w] * p[h][i][j];
            max[h * n + j] = Math.max(max[h * n + j], p[h][i][j]);
            if (w >= window - 2) rowsOut[(h * 2 + w - (window - 2)) * n + j] = p[h][i][j];
          }
        }
      }
      const options = { keyPositions: kPos, queryPositions: qPos, statistics: stats, tileSize: 16 };
      for (const [name, result] of [
        ['decode', decodeAttention(q, k.input, v.input, { ...options, partitionSize: 32 }).statistics!],
        ['flash', flashAttention(q, k.input, v.input, { ...options, queryBlock: 5 }).statistics!],
        ['statistics only', attentionStatistics(q, k.input, options)],
      ] as const) {
        assertClose(result.keySum.readSync(), sum, 1e-5, `${name} keySum`);
        assertClose(result.keyMax.readSync(), max, 1e-5, `${name} keyMax`);
        assertClose(result.rowProbabilities!.readSync(), rowsOut, 1e-5, `${name} rowProbabilities`);
        expect(Array.from(result.queryCount.readSync())).toEqual(Array.from(kPos, (kp) => qPos.slice(m - window).filter((qp) => kp <= qp).length));
      }
    }));

  it('typed errors for bits, groups, shapes and mixed inputs; nothing else runs', () =>
    withSeed((rng) => {
      const k = randomTokenCodes(rng, { kvHeads: 2, n: 20, dim: 64, bits: 4, groupSize: 32 });
      const v = randomTokenCodes(rng, { kvHeads: 2, n: 20, dim: 64, bits: 4, groupSize: 32 });
      const q = randomNormal([4, 1, 64], rng);
      const dense = randomNormal([2, 20, 64], rng);
      const code = (c: string) => expect.objectContaining({ code: c });
      expect(() => decodeAttention(q, { codes: { ...k.input.codes, bits: 5 } }, v.input)).toThrow(code('UNSUPPORTED_BIT_WIDTH'));
      expect(() => decodeAttention(q, { codes: { ...k.input.codes, bits: 1 } }, v.input)).toThrow(code('UNSUPPORTED_BIT_WIDTH'));
      expect(() => decodeAttention(q, { codes: { ...k.input.codes, groupSize: 64 } }, v.input)).toThrow(code('SHAPE_MISMATCH')); // scales are [.., 2], not [.., 1]
      expect(() => decodeAttention(q, { codes: { ...k.input.codes, groupSize: 0 } }, v.input)).toThrow(code('INVALID_CONFIG'));
      expect(() => decodeAttention(q, { codes: { ...k.input.codes, groupSize: 48 } }, v.input)).toThrow(code('INVALID_CONFIG')); // 48 does not divide 64
      expect(() => decodeAttention(randomNormal([4, 1, 32], rng), k.input, v.input)).toThrow(code('SHAPE_MISMATCH'));
      expect(() => decodeAttention(randomNormal([3, 1, 64], rng), k.input, v.input)).toThrow(code('SHAPE_MISMATCH'));
      expect(() => decodeAttention(q, { codes: { ...k.input.codes, codes: k.input.codes.scales } }, v.input)).toThrow(code('UNSUPPORTED_DTYPE'));
      expect(() => decodeAttention(q, { codes: { ...k.input.codes, zeros: tensor(new Float32Array(40), [2, 20, 1]) } }, v.input)).toThrow(code('SHAPE_MISMATCH'));
      const shorter = randomTokenCodes(rng, { kvHeads: 2, n: 19, dim: 64, bits: 4, groupSize: 32 });
      expect(() => flashAttention(q, k.input, shorter.input)).toThrow(code('SHAPE_MISMATCH'));
      expect(() => flashAttention(q, k.input, dense)).toThrow(code('INVALID_CONFIG'));
      expect(() => decodeAttention(q, dense, v.input)).toThrow(code('INVALID_CONFIG'));
      expect(() => decodeAttention(q, k.input, v.input, { keyPositions: new Int32Array(3) })).toThrow(code('SHAPE_MISMATCH'));
      expect(() => decodeAttention(q, k.input, v.input, { keyLogWeights: f32(new Float32Array(20), [1, 20]) })).toThrow(code('SHAPE_MISMATCH'));
    }));
});

describe('per-token codes on a GPU backend', () => {
  it('raise KERNEL_NOT_FOUND (the code-reading kernel is CPU only; callers fall back to dequantized rows)', async () => {
    const cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
    const rng = createRng(3);
    const k = randomTokenCodes(rng, { kvHeads: 1, n: 8, dim: 64, bits: 4, groupSize: 32 });
    const onGpu = async (input: TokenCodesInput): Promise<TokenCodesInput> => {
      const [codes, scales, zeros] = await Promise.all([input.codes.codes, input.codes.scales, input.codes.zeros].map((t) => toBackend(t, cuda)));
      return { codes: { ...input.codes, codes, scales, zeros } };
    };
    const q = await toBackend(randomNormal([2, 1, 64], rng), cuda);
    const gpuCodes = await onGpu(k.input);
    expect(() => decodeAttention(q, gpuCodes, gpuCodes)).toThrow(expect.objectContaining({ code: 'KERNEL_NOT_FOUND' }));
  });
});
