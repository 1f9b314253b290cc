import { packCodes, type Rng, tensor, wordsPerRow } from '@kvkit/tensor-core';
import type { KiviCacheView } from '../../src/index.js';

/** Asymmetric min–max quantization of `xs` to `bits`, straight from the definition. */
function quantize(xs: number[], bits: number): { codes: number[]; scale: number; min: number } {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const scale = Math.fround((hi - lo) / (2 ** bits - 1) || 1);
  const min = Math.fround(lo);
  return { codes: xs.map((x) => Math.max(0, Math.min(2 ** bits - 1, Math.round((x - min) / scale)))), scale, min };
}

/** A KIVI view of random K/V built with the direct formula, plus the dequantized values it must produce. */
export function randomKiviView(
  rng: Rng,
  o: { bits: 2 | 4 | 8; groupSize: number; valueGroupSize: number; kvHeads: number; headDim: number; length: number; residual: number; extraCapacity?: number; floatDType?: 'f32' | 'f16'; positions?: Int32Array },
) {
  const { bits, groupSize: G, valueGroupSize: Gv, kvHeads: H, headDim: d, length: n } = o;
  const cap = o.extraCapacity ?? 0;
  const keyGroups = Math.floor(Math.max(0, n - o.residual) / G);
  const valueTokens = Math.max(0, n - o.residual);
  const k = Array.from({ length: H * n * d }, () => rng.normal());
  const v = Array.from({ length: H * n * d }, () => rng.normal());
  const expectK = Float64Array.from(k.map(Math.fround));
  const expectV = Float64Array.from(v.map(Math.fround));
  const kWords = wordsPerRow(G, bits);
  const kCodes = new Uint32Array(H * (keyGroups + cap) * d * kWords);
  const kScale = new Float32Array(H * (keyGroups + cap) * d);
  const kMin = new Float32Array(H * (keyGroups + cap) * d);
  for (let h = 0; h < H; h++)
    for (let g = 0; g < keyGroups; g++)
      for (let c = 0; c < d; c++) {
        const xs = Array.from({ length: G }, (_, t) => k[(h * n + g * G + t) * d + c]);
        const q = quantize(xs, bits);
        const row = (h * (keyGroups + cap) + g) * d + c;
        kCodes.set(packCodes(q.codes, G, bits), row * kWords);
        kScale[row] = q.scale;
        kMin[row] = q.min;
        q.codes.forEach((code, t) => (expectK[(h * n + g * G + t) * d + c] = code * q.scale + q.min));
      }
  const vWords = wordsPerRow(d, bits, Gv);
  const vCodes = new Uint32Array(H * (valueTokens + cap) * vWords);
  const vScale = new Float32Array(H * (valueTokens + cap) * (d / Gv));
  const vMin = new Float32Array(H * (valueTokens + cap) * (d / Gv));
  for (let h = 0; h < H; h++)
    for (let t = 0; t < valueTokens; t++) {
      const row = h * (valueTokens + cap) + t;
      const codes: number[] = [];
      for (let g = 0; g < d / Gv; g++) {
        const xs = Array.from({ length: Gv }, (_, c) => v[(h * n + t) * d + g * Gv + c]);
        const q = quantize(xs, bits);
        vScale[row * (d / Gv) + g] = q.scale;
        vMin[row * (d / Gv) + g] = q.min;
        q.codes.forEach((code, c) => (expectV[(h * n + t) * d + g * Gv + c] = code * q.scale + q.min));
        codes.push(...q.codes);
      }
      vCodes.set(packCodes(codes, d, bits, Gv), row * vWords);
    }
  const rk = n - keyGroups * G;
  const rv = n - valueTokens;
  const resK = new Float32Array(H * (rk + cap) * d);
  const resV = new Float32Array(H * (rv + cap) * d);
  for (let h = 0; h < H; h++) {
    for (let t = 0; t < rk; t++) for (let c = 0; c < d; c++) resK[(h * (rk + cap) + t) * d + c] = k[(h * n + keyGroups * G + t) * d + c];
    for (let t = 0; t < rv; t++) for (let c = 0; c < d; c++) resV[(h * (rv + cap) + t) * d + c] = v[(h * n + valueTokens + t) * d + c];
  }
  const float = (data: Float32Array, shape: number[]) => tensor(data, shape, { dtype: o.floatDType ?? 'f32' });
  const view: KiviCacheView = {
    bits, groupSize: G, valueGroupSize: Gv, kvHeads: H, headDim: d, length: n, keyGroups, valueTokens,
    keyCodes: tensor(kCodes, [H, keyGroups + cap, d, kWords], { dtype: 'u32' }),
    keyScale: float(kScale, [H, keyGroups + cap, d]),
    keyMin: float(kMin, [H, keyGroups + cap, d]),
    valueCodes: tensor(vCodes, [H, valueTokens + cap, vWords], { dtype: 'u32' }),
    valueScale: float(vScale, [H, valueTokens + cap, d / Gv]),
    valueMin: float(vMin, [H, valueTokens + cap, d / Gv]),
    residualKeys: float(resK, [H, rk + cap, d]),
    residualValues: float(resV, [H, rv + cap, d]),
    positions: tensor(o.positions ?? Int32Array.from({ length: n + cap }, (_, i) => i), [n + cap], { dtype: 'i32' }),
  };
  return { view, expectK, expectV, rawK: k, rawV: v };
}
