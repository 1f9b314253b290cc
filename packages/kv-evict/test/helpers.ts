import { type CacheSpec, cpuBackend, type LayerSpec, type Rng, type Tensor, tensor } from '@kvkit/tensor-core';
import { consecutivePositions, testCacheSpec } from '@kvkit/tensor-core/testing';


export const backend = cpuBackend();

export const cacheSpec = (over: Partial<CacheSpec> = {}): CacheSpec => testCacheSpec(over);

export function layerSpec(over: Partial<LayerSpec> = {}): LayerSpec {
  return { ...cacheSpec(over), layerIndex: over.layerIndex ?? 0 };
}

export const positions = consecutivePositions;

export function randomArray(rng: Rng, n: number, std = 1): Float32Array {
  return Float32Array.from({ length: n }, () => std * rng.normal());
}

export function randomTensor(rng: Rng, shape: number[], dtype: 'f32' | 'f16' = 'f32', std = 1): Tensor {
  return tensor(randomArray(rng, shape.reduce((a, b) => a * b, 1), std), shape, { dtype, backend });
}

export function f32(t: Tensor): Float32Array {
  return Float32Array.from(t.readFloat32Sync());
}

export interface RefHead {
  keys: ArrayLike<number>; // [n, d]
  values: ArrayLike<number>;
  positions: ArrayLike<number>;
  logWeights?: ArrayLike<number>;
}

/**
 * Float64 attention written from the definition: query head h reads KV head ⌊h / group⌋, causal by
 * positions, score q·k/√d (+ log weight), softmax, weighted values. Also returns probabilities.
 */
export function referenceAttention(
  q: ArrayLike<number>,
  qHeads: number,
  m: number,
  d: number,
  heads: RefHead[],
  queryPositions: ArrayLike<number>,
  scale = 1 / Math.sqrt(d),
): { output: Float64Array; probabilities: Float64Array[][] } {
  const group = qHeads / heads.length;
  const output = new Float64Array(qHeads * m * d);
  const probabilities: Float64Array[][] = [];
  for (let h = 0; h < qHeads; h++) {
    const head = heads[Math.floor(h / group)];
    const n = head.positions.length;
    const rows: Float64Array[] = [];
    for (let i = 0; i < m; i++) {
      const s = new Float64Array(n);
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        if (head.positions[j] > queryPositions[i]) {
          s[j] = -Infinity;
          continue;
        }
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[(h * m + i) * d + c] * head.keys[j * d + c];
        s[j] = dot * scale + (head.logWeights ? head.logWeights[j] : 0);
        max = Math.max(max, s[j]);
      }
      const p = new Float64Array(n);
      let total = 0;
      for (let j = 0; j < n; j++) {
        p[j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - max);
        total += p[j];
      }
      for (let j = 0; j < n; j++) {
        p[j] = total > 0 ? p[j] / total : 0;
        for (let c = 0; c < d; c++) output[(h * m + i) * d + c] += p[j] * head.values[j * d + c];
      }
      rows.push(p);
    }
    probabilities.push(rows);
  }
  return { output, probabilities };
}

/** Row-major [kvHeads, n, d] host array → per-head [n, d] rows. */
export function splitHeads(data: ArrayLike<number>, kvHeads: number, n: number, d: number): Float32Array[] {
  return Array.from({ length: kvHeads }, (_, h) => Float32Array.from({ length: n * d }, (_, i) => data[h * n * d + i]));
}
