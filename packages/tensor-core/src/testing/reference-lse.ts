/** What a query row sees and how its scores are shaped, as the attention kernels' masks define it. */
export interface LseMask {
  /** Score scale; default 1/√headDim. */
  scale?: number;
  /** A key is visible only when its position ≤ the query's; default true. */
  causal?: boolean;
  /** A key is visible only when queryPos − keyPos < window. */
  window?: number;
  /** Scores soft-capped to softcap · tanh(s / softcap). */
  softcap?: number;
}

/**
 * The float64 log-sum-exp of each row's scores, log Σ_j exp(scale · q·k_j) (soft-capped where
 * asked) over the keys it sees (keyPos ≤ queryPos unless not causal, within the window), −∞ for a row that sees none: the definition a kernel's
 * `lse` (or a cache layer's `AttendResult.lse`) is checked against. q is [qHeads, m, d] and k
 * [kvHeads, n, d] row-major; query head h reads KV head ⌊h / (qHeads / kvHeads)⌋. Returns [qHeads · m].
 */
export function referenceLogSumExp(q: ArrayLike<number>, k: ArrayLike<number>, shape: { qHeads: number; kvHeads: number; m: number; n: number; d: number }, queryPositions: ArrayLike<number>, keyPositions: ArrayLike<number>, mask: LseMask = {}): Float64Array {
  const { qHeads, kvHeads, m, n, d } = shape;
  const scale = mask.scale ?? 1 / Math.sqrt(d);
  const out = new Float64Array(qHeads * m);
  for (let h = 0; h < qHeads; h++) {
    const kv = Math.floor(h / (qHeads / kvHeads));
    for (let i = 0; i < m; i++) {
      const scores: number[] = [];
      for (let j = 0; j < n; j++) {
        const gap = queryPositions[i] - keyPositions[j];
        if ((gap < 0 && mask.causal !== false) || (mask.window && gap >= mask.window)) continue;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[(h * m + i) * d + c] * k[(kv * n + j) * d + c];
        scores.push(mask.softcap ? mask.softcap * Math.tanh((scale * dot) / mask.softcap) : scale * dot);
      }
      const top = Math.max(...scores);
      out[h * m + i] = scores.length === 0 ? -Infinity : top + Math.log(scores.reduce((sum, s) => sum + Math.exp(s - top), 0));
    }
  }
  return out;
}
