import { packCodes, type Rng, tensor, type TokenCodes, wordsPerRow } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { attendHeads, type HeadKeys } from '../src/index.js';
import { backend, randomArray } from './helpers.js';

const d = 64;
const groupSize = 32;

/** n random vectors as per-token min–max codes (packed layout, f16-rounded scale and zero) and the f32 rows they decode to. */
function quantized(rng: Rng, n: number, bits: number): { codes: TokenCodes; rows: Float32Array } {
  const groups = d / groupSize;
  const words = wordsPerRow(d, bits, groupSize);
  const packed = new Uint32Array(n * words);
  const scales = new Float32Array(n * groups);
  const zeros = new Float32Array(n * groups);
  const rows = new Float32Array(n * d);
  const x = randomArray(rng, n * d);
  const f16 = (v: number) => tensor([v], [1], { dtype: 'f16' }).readFloat32Sync()[0];
  for (let t = 0; t < n; t++) {
    const codes: number[] = [];
    for (let g = 0; g < groups; g++) {
      const xs = x.subarray(t * d + g * groupSize, t * d + (g + 1) * groupSize);
      const zero = f16(Math.min(...xs));
      const scale = f16((Math.max(...xs) - zero) / (2 ** bits - 1));
      scales[t * groups + g] = scale;
      zeros[t * groups + g] = zero;
      xs.forEach((v, c) => {
        const code = Math.max(0, Math.min(2 ** bits - 1, Math.round((v - zero) / scale)));
        codes.push(code);
        rows[t * d + g * groupSize + c] = Math.fround(code * scale + zero);
      });
    }
    packed.set(packCodes(codes, d, bits, groupSize), t * words);
  }
  return {
    codes: {
      bits,
      groupSize,
      codes: tensor(packed, [n, words], { dtype: 'u32', backend }),
      scales: tensor(scales, [n, groups], { dtype: 'f16', backend }),
      zeros: tensor(zeros, [n, groups], { dtype: 'f16', backend }),
    },
    rows,
  };
}

describe('attendHeads over heads that carry per-token codes', () => {
  it('reads the codes (never the f32 rows) and returns what it returns over the dequantized rows: output, statistics, observations', () =>
    withSeed((rng) => {
      const ns = [37, 80];
      const heads = ns.map((n, h) => {
        const k = quantized(rng, n, 4);
        const v = quantized(rng, n, h === 0 ? 2 : 8);
        const positions = Int32Array.from({ length: n }, (_, j) => 2 * j + h);
        const dense: HeadKeys = { keys: tensor(k.rows, [1, n, d], { backend }), values: tensor(v.rows, [1, n, d], { backend }), positions };
        const coded: HeadKeys = {
          get keys(): never {
            throw new Error('the f32 keys were read');
          },
          get values(): never {
            throw new Error('the f32 values were read');
          },
          positions,
          codes: { keys: k.codes, values: v.codes },
        };
        return { dense, coded };
      });
      for (const m of [2, 12]) {
        const q = tensor(randomArray(rng, 4 * m * d), [4, m, d], { backend });
        const positions = Int32Array.from({ length: m }, (_, i) => 170 + i);
        const options = { positions, statistics: true, observe: { rows: 4, perRow: 2, rowWeights: Float64Array.of(0.25, 0.5, 0.75, 1) }, window: 120 };
        const got = attendHeads(q, heads.map((h) => h.coded), options);
        const ref = attendHeads(q, heads.map((h) => h.dense), options);
        assertClose(got.output.readSync(), ref.output.readSync(), 1e-5, `output m=${m}`);
        for (let h = 0; h < 2; h++) {
          assertClose(got.statistics![h].keySum, ref.statistics![h].keySum, 1e-5, `keySum m=${m} head ${h}`);
          assertClose(got.statistics![h].keyMax, ref.statistics![h].keyMax, 1e-5, `keyMax m=${m} head ${h}`);
          assertClose(got.observations![h].sum, ref.observations![h].sum, 1e-5, `observed sum m=${m} head ${h}`);
          assertClose(got.observations![h].max, ref.observations![h].max, 1e-5, `observed max m=${m} head ${h}`);
          assertClose(got.observations![h].perRow!, ref.observations![h].perRow!, 1e-5, `observed rows m=${m} head ${h}`);
        }
      }
      // One head without codes: every head reads its f32 rows (this one's throw).
      const q = tensor(randomArray(rng, 4 * d), [4, 1, d], { backend });
      const mixed = [heads[0].coded, { ...heads[1].dense }];
      expect(() => attendHeads(q, mixed, { positions: Int32Array.of(170) })).toThrow('the f32 keys were read');
    }));
});
