import { createCache, tensor } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { decodeFp8, dequantizeFp8, encodeFp8, fp8, fp8Max, quantizeFp8 } from '../src/index.js';
import { layerSpec, positions, randomArray } from './helpers.js';

/**
 * The OCP FP8 definitions, written out independently: value = (−1)^s · 2^(e − bias) · (1 + m/2^M)
 * for e > 0, (−1)^s · 2^(1 − bias) · m/2^M for e = 0; e4m3 has no infinities and only
 * S.1111.111 as NaN; e5m2 follows IEEE (e = 31: ∞ if m = 0, else NaN).
 */
function definition(code: number, format: 'e4m3' | 'e5m2'): number {
  const M = format === 'e4m3' ? 3 : 2;
  const E = 7 - M;
  const bias = 2 ** (E - 1) - 1;
  const s = code >> 7 ? -1 : 1;
  const e = (code >> M) & (2 ** E - 1);
  const m = code & (2 ** M - 1);
  if (format === 'e5m2' && e === 31) return m === 0 ? s * Infinity : NaN;
  if (format === 'e4m3' && e === 15 && m === 7) return NaN;
  return e === 0 ? s * 2 ** (1 - bias) * (m / 2 ** M) : s * 2 ** (e - bias) * (1 + m / 2 ** M);
}

/** Brute-force round to nearest among all finite codes, ties to the even code, saturating. */
function bruteForce(x: number, format: 'e4m3' | 'e5m2'): number {
  let best = -1;
  let bestDist = Infinity;
  for (let c = 0; c < 256; c++) {
    const v = definition(c, format);
    if (!Number.isFinite(v)) continue;
    if (v === 0 && c >> 7 !== (x < 0 || Object.is(x, -0) ? 1 : 0)) continue; // the zero of x's sign
    const dist = Math.abs(v - x);
    if (dist < bestDist || (dist === bestDist && (c & 1) === 0)) {
      best = c;
      bestDist = dist;
    }
  }
  return best;
}

describe('FP8 formats', () => {
  for (const format of ['e4m3', 'e5m2'] as const) {
    it(`${format}: all 256 codes decode as the format definition says`, () => {
      for (let c = 0; c < 256; c++) {
        const expected = definition(c, format);
        if (Number.isNaN(expected)) expect(decodeFp8(c, format)).toBeNaN();
        else expect(Object.is(decodeFp8(c, format), expected)).toBe(true);
      }
      expect(fp8Max(format)).toBe(format === 'e4m3' ? 448 : 57344);
    });

    it(`${format}: every non-NaN code encodes back to itself`, () => {
      for (let c = 0; c < 256; c++) {
        const v = definition(c, format);
        if (Number.isNaN(v)) continue;
        expect(encodeFp8(v, format)).toBe(c);
      }
    });

    it(`${format}: encoding rounds to nearest (ties to even) and saturates`, () =>
      withSeed((rng) => {
        const max = fp8Max(format);
        for (let i = 0; i < 800; i++) {
          const x = (rng.uniform() * 2 - 1) * max * 1.2 * 2 ** -Math.floor(rng.uniform() * 24);
          expect(encodeFp8(x, format)).toBe(bruteForce(x, format));
        }
        // Exact midpoints between neighbours go to the even code.
        for (let c = 1; c < 0x7b; c++) {
          const mid = (definition(c, format) + definition(c + 1, format)) / 2;
          expect(encodeFp8(mid, format) & 1).toBe(0);
        }
        expect(encodeFp8(1e9, format)).toBe(encodeFp8(max, format));
        expect(encodeFp8(-1e9, format)).toBe(encodeFp8(-max, format));
        expect(decodeFp8(encodeFp8(NaN, format), format)).toBeNaN();
        expect(decodeFp8(encodeFp8(Infinity, format), format)).toBe(format === 'e5m2' ? Infinity : max);
      }));
  }

  it('scaled FP8 kernels: x̂ = value(fp8(x / s)) · s, with per-head scales, and a relative error of at most half an ulp', () =>
    withSeed((rng) => {
      for (const format of ['e4m3', 'e5m2'] as const) {
        const x = randomArray(rng, 2 * 5 * 12, 3);
        const scales = Float32Array.of(0.01, 0.02);
        const codes = quantizeFp8(tensor(x, [2, 5, 12]), tensor(scales, [2]), format);
        expect(codes.shape).toEqual([2, 5, 3]);
        const back = dequantizeFp8(codes, tensor(scales, [2]), format, 12).readSync();
        const mantissa = format === 'e4m3' ? 3 : 2;
        for (let i = 0; i < x.length; i++) {
          const s = scales[Math.floor(i / 60)];
          expect(back[i]).toBe(Math.fround(decodeFp8(encodeFp8(x[i] / s, format), format) * s));
          const inRange = Math.abs(x[i] / s) >= 2 ** (format === 'e4m3' ? -6 : -14) && Math.abs(x[i] / s) <= fp8Max(format);
          if (inRange) expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -(mantissa + 1) * (1 + 1e-6));
        }
      }
    }));

  it('the fp8 cache takes its scales from the prefill (per head or per tensor) and attends over x̂', () =>
    withSeed((rng) => {
      for (const scaling of ['per-head', 'per-tensor'] as const) {
        const spec = layerSpec({ headDim: 16 });
        const layer = createCache(spec, fp8({ scaling, dtype: 'f32' })).layers[0];
        const k = randomArray(rng, 2 * 9 * 16);
        const v = randomArray(rng, 2 * 9 * 16, 4);
        layer.append(tensor(k, [2, 9, 16]), tensor(v, [2, 9, 16]), { positions: positions(0, 9), phase: 'prefill' });
        const absMax = (a: Float32Array, h?: number) => Math.max(...Array.from(h === undefined ? a : a.subarray(h * 144, (h + 1) * 144), Math.abs));
        const scaleOf = (a: Float32Array, h: number) => (scaling === 'per-head' ? absMax(a, h) : absMax(a)) / 448;
        const decoded = (layer as unknown as { values: { decode(): { readSync(): Float32Array } } }).values.decode().readSync();
        for (let i = 0; i < v.length; i++) {
          const s = Math.fround(scaleOf(v, Math.floor(i / 144)));
          expect(decoded[i]).toBe(Math.fround(decodeFp8(encodeFp8(v[i] / s, 'e4m3'), 'e4m3') * s));
        }
        expect(layer.memory().parts.scales).toBe(scaling === 'per-head' ? 2 * 2 * 4 : 2 * 4);
      }
    }));
});
