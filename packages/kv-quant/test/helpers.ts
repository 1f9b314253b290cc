import {
  type Backend,
  type KVCacheLayer,
  type CacheSpec,
  cpuBackend,
  f16BitsToNumber,
  type LayerSpec,
  numberToF16Bits,
  randomNormal,
  type Rng,
  type Tensor,
  tensor,
  toBackend,
} from '@kvkit/tensor-core';
import { consecutivePositions, testCacheSpec } from '@kvkit/tensor-core/testing';

export const cpu = cpuBackend();

/** A small CPU layer spec (head dim 16 unless overridden). */
export function layerSpec(over: Partial<CacheSpec> & { layerIndex?: number } = {}): LayerSpec {
  return { ...testCacheSpec({ headDim: 16, ...over }), layerIndex: over.layerIndex ?? 0 };
}

export const positions = consecutivePositions;

/**
 * Appends the same random [H, n, D] keys and values, one step per entry of `steps` (the first a
 * prefill), to a CPU layer and to a layer on `gpu` (its copies moved there). Returns the next position.
 */
export async function appendToBoth(layers: readonly [KVCacheLayer, KVCacheLayer], gpu: Backend, rng: Rng, shape: { H: number; D: number }, steps: readonly number[]): Promise<number> {
  let start = 0;
  for (const n of steps) {
    const k = randomNormal([shape.H, n, shape.D], rng, { backend: cpu });
    const v = randomNormal([shape.H, n, shape.D], rng, { backend: cpu });
    const phase = start === 0 ? 'prefill' : 'decode';
    layers[0].append(k, v, { positions: positions(start, n), phase });
    layers[1].append(await toBackend(k, gpu), await toBackend(v, gpu), { positions: positions(start, n), phase });
    start += n;
  }
  return start;
}

export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** [heads, n, d] normal values with `outlierChannels` shifted by `factor` (the structure real keys have). */
export function withOutlierChannels(rng: Rng, heads: number, n: number, d: number, outlierChannels: number[], factor: number): Float32Array {
  const x = randomArray(rng, heads * n * d);
  for (let h = 0; h < heads; h++) for (let t = 0; t < n; t++) for (const c of outlierChannels) x[(h * n + t) * d + c] += factor;
  return x;
}

export const f16 = (x: number) => f16BitsToNumber(numberToF16Bits(x));
export const roundF16 = (a: ArrayLike<number>) => Float64Array.from(a, f16);

export function t3(data: ArrayLike<number>, shape: [number, number, number]): Tensor {
  return tensor(Float32Array.from(data), shape, { backend: cpu });
}

/** Float64 reference attention: q [H, m, d], k/v [Hkv, n, d]; causal by positions; returns out and keySum. */
export function referenceAttention(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: { qHeads: number; kvHeads: number; m: number; n: number; d: number },
  qPos: ArrayLike<number>,
  kPos: ArrayLike<number>
): { out: Float64Array; keySum: Float64Array } {
  const { qHeads, kvHeads, m, n, d } = dims;
  const group = qHeads / kvHeads;
  const out = new Float64Array(qHeads * m * d);
  const keySum = new Float64Array(qHeads * n);
  for (let h = 0; h < qHeads; h++) {
    const kvh = Math.floor(h / group);
    for (let i = 0; i < m; i++) {
      const s = new Float64Array(n).fill(-Infinity);
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        if (kPos[j] > qPos[i]) continue;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[(h * m + i) * d + c] * k[(kvh * n + j) * d + c];
        s[j] = dot / Math.sqrt(d);
        max = Math.max(max, s[j]);
      }
      let total = 0;
      for (let j = 0; j < n; j++) total += s[j] === -Infinity ? 0 : Math.exp(s[j] - max);
      for (let j = 0; j < n; j++) {
        const p = s[j] === -Infinity ? 0 : Math.exp(s[j] - max) / total;
        keySum[h * n + j] += p;
        for (let c = 0; c < d; c++) out[(h * m + i) * d + c] += p * v[(kvh * n + j) * d + c];
      }
    }
  }
  return { out, keySum };
}

/** Float64 RoPE ('half' layout) written from the formula. */
export function ropeHalf(x: ArrayLike<number>, heads: number, n: number, d: number, pos: ArrayLike<number>, invFreq: Float32Array): Float64Array {
  const out = Float64Array.from(x);
  const half = invFreq.length;
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < n; t++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(pos[t] * invFreq[i]);
        const c = Math.fround(Math.cos(angle));
        const s = Math.fround(Math.sin(angle));
        const a = x[(h * n + t) * d + i];
        const b = x[(h * n + t) * d + i + half];
        out[(h * n + t) * d + i] = a * c - b * s;
        out[(h * n + t) * d + i + half] = b * c + a * s;
      }
    }
  }
  return out;
}
