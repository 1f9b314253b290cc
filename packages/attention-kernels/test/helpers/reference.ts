import { type Rng, type Tensor, tensor } from '@kvkit/tensor-core';

/** Strictly increasing positions with random gaps of 1–4 (what eviction leaves behind). */
export function gappedPositions(rng: Rng, n: number, start = 0): Int32Array {
  const out = new Int32Array(n);
  let p = start;
  for (let i = 0; i < n; i++) {
    out[i] = p;
    p += 1 + rng.int(4);
  }
  return out;
}

export function i32(values: Int32Array): Tensor {
  return tensor(values, [values.length], { dtype: 'i32' });
}

/**
 * Softmax probabilities p[h][i][j] straight from the definition, in float64 (causal/window mask,
 * soft-cap, scale, per-key log weights), for what the reference attention does not give (windows,
 * weights, counts, probability rows, log weights).
 */
export function probabilities(
  q: Tensor,
  k: Tensor,
  o: { qPos: Int32Array; kPos: Int32Array; scale?: number; causal?: boolean; window?: number; softcap?: number; logWeights?: Float32Array },
): Float64Array[][] {
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const qv = q.readFloat32Sync();
  const kv = k.readFloat32Sync();
  const scale = o.scale ?? 1 / Math.sqrt(d);
  const causal = o.causal ?? true;
  const window = o.window ?? 0;
  const result: Float64Array[][] = [];
  for (let h = 0; h < qHeads; h++) {
    const kvh = Math.floor(h / (qHeads / kvHeads));
    const rows: Float64Array[] = [];
    for (let i = 0; i < m; i++) {
      const s = new Float64Array(n).fill(-Infinity);
      for (let j = 0; j < n; j++) {
        const visible = (!causal || o.kPos[j] <= o.qPos[i]) && (window === 0 || o.qPos[i] - o.kPos[j] < window);
        if (!visible) continue;
        let x = 0;
        for (let c = 0; c < d; c++) x += qv[(h * m + i) * d + c] * kv[(kvh * n + j) * d + c];
        x *= scale;
        if (o.softcap) x = o.softcap * Math.tanh(x / o.softcap);
        if (o.logWeights) x += o.logWeights[kvh * n + j];
        s[j] = x;
      }
      const max = Math.max(...s);
      const p = new Float64Array(n);
      if (max > -Infinity) {
        let total = 0;
        for (let j = 0; j < n; j++) total += p[j] = Math.exp(s[j] - max);
        for (let j = 0; j < n; j++) p[j] /= total;
      }
      rows.push(p);
    }
    result.push(rows);
  }
  return result;
}

/** Σ_j p[h][i][j] · v_(kv head of h, j) in float64: the output for probabilities from `probabilities`. */
export function outputOf(p: Float64Array[][], v: Tensor): Float64Array {
  const qHeads = p.length;
  const m = p[0]?.length ?? 0;
  const [kvHeads, n, dv] = v.shape;
  const vv = v.readFloat32Sync();
  const out = new Float64Array(qHeads * m * dv);
  for (let h = 0; h < qHeads; h++) {
    const kvh = Math.floor(h / (qHeads / kvHeads));
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let c = 0; c < dv; c++) out[(h * m + i) * dv + c] += p[h][i][j] * vv[(kvh * n + j) * dv + c];
  }
  return out;
}
