import { registerKernel } from '../../kernel-registry.js';
import type { AttentionAttrs } from '../../ops/attention.js';
import type { CpuBackend } from '../cpu-backend.js';
import { outputBuffer, readIndices, wrapOutput } from '../host-data.js';
import { attentionLoops } from './attention-loops.js';

/** True when a query at `qPos` may attend to a key at `kPos`. The one definition every backend mirrors. */
export function keyVisible(qPos: number, kPos: number, causal: boolean, window: number): boolean {
  if (causal && kPos > qPos) return false;
  if (window > 0 && qPos - kPos >= window) return false;
  return true;
}

export function registerAttentionKernel(): void {
  registerKernel<'attention', CpuBackend>('attention', 'cpu', (backend, [q, k, v, qPositions, kPositions], attrs: AttentionAttrs) => {
    const { scale, causal, window, softcap, statistics } = attrs;
    const qPos = readIndices(qPositions);
    const kPos = readIndices(kPositions);
    const [qHeads, m, d] = q.shape;
    const [kvHeads, n] = k.shape;
    const dv = v.shape[2];
    const group = qHeads / kvHeads;
    const out = outputBuffer(q.dtype, qHeads * m * dv);
    // Each row's log-sum-exp where asked; −∞ stays for a row that sees no key.
    const lse = attrs.lse ? new Float32Array(qHeads * m).fill(-Infinity) : undefined;
    const keySum = statistics ? new Float32Array(qHeads * n) : undefined;
    const keyMax = statistics ? new Float32Array(qHeads * n) : undefined;
    const sumRow = new Float64Array(n);
    // The O(n·d) loops (scores, and probability × values) in WebAssembly SIMD for f32 operands.
    const loops = attentionLoops(q, k, v, { queryRows: qHeads * m, kvHeads, n, d, dv });
    const { scores, keys: visibleKeys, acc } = loops;
    for (let h = 0; h < qHeads; h++) {
      const kvh = Math.floor(h / group);
      sumRow.fill(0);
      for (let i = 0; i < m; i++) {
        const oBase = (h * m + i) * dv;
        // Visible keys only: under a causal mask half the rows of a prefill are masked, and the
        // score, exp and V passes skip them instead of multiplying by zero.
        let visible = 0;
        for (let j = 0; j < n; j++) if (keyVisible(qPos[i], kPos[j], causal, window)) visibleKeys[visible++] = j;
        if (visible > 0) loops.dots(h * m + i, kvh, visibleKeys[0], visibleKeys[visible - 1] + 1);
        let maxScore = -Infinity;
        for (let t = 0; t < visible; t++) {
          // Compacted in place: t ≤ key j, so score j is read before slot t is written.
          let s = scores[visibleKeys[t]] * scale;
          if (softcap > 0) s = softcap * Math.tanh(s / softcap);
          scores[t] = s;
          if (s > maxScore || s !== s) maxScore = s;
        }
        if (maxScore === -Infinity) {
          for (let c = 0; c < dv; c++) out[oBase + c] = 0; // no visible key: zeros, never NaN
          continue;
        }
        let total = 0;
        for (let t = 0; t < visible; t++) {
          const p = Math.exp(scores[t] - maxScore);
          scores[t] = p;
          total += p;
        }
        if (lse) lse[h * m + i] = maxScore + Math.log(total);
        for (let t = 0; t < visible; t++) scores[t] /= total;
        acc.fill(0);
        loops.weighted(kvh, visible);
        if (keySum && keyMax) {
          for (let t = 0; t < visible; t++) {
            const p = scores[t];
            if (p === 0) continue;
            const j = visibleKeys[t];
            sumRow[j] += p;
            if (p > keyMax[h * n + j]) keyMax[h * n + j] = p;
          }
        }
        for (let c = 0; c < dv; c++) out[oBase + c] = acc[c];
      }
      if (keySum) for (let j = 0; j < n; j++) keySum[h * n + j] = sumRow[j];
    }
    const output = wrapOutput(backend, [qHeads, m, dv], q.dtype, out);
    const rowLse = lse ? { lse: wrapOutput(backend, [qHeads, m], 'f32', lse) } : {};
    if (!keySum || !keyMax) return { output, ...rowLse };
    return {
      output,
      ...rowLse,
      statistics: {
        keySum: wrapOutput(backend, [qHeads, n], 'f32', keySum),
        keyMax: wrapOutput(backend, [qHeads, n], 'f32', keyMax),
      },
    };
  });
}
