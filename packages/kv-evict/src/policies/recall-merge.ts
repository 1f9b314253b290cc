import { numberInRange } from '../budget.js';
import { type CompressionPolicy, droppedIndices, type PolicyFactory, shrinkHead } from './policy.js';
import { nearestByCosine } from './vectors.js';

export interface RecallMergeOptions {
  /** EMA factor of the similarity threshold (default 0.9). */
  beta?: number;
}

/**
 * D2O's token-level compensation (Wan et al., 2024). Each dropped token finds the kept token whose
 * key is most similar (cosine u); if u reaches the head's threshold τ it is recalled and merged:
 * a kept token c with merged set E becomes w_c·x_c + Σ_e w_e·x_e with w_e = e^{u_e} / (Σ e^{u} + e)
 * and w_c = e / (Σ e^{u} + e) (its own similarity is 1), for keys and values. τ starts at the mean
 * best similarity of the first compression and follows an exponential moving average of it
 * afterwards (τ ← β·τ + (1−β)·mean u), updated after each decision.
 */
export function recallMergePolicy(options: RecallMergeOptions = {}): PolicyFactory {
  const beta = numberInRange(options.beta ?? 0.9, 0, 1, 'd2o', 'beta');
  return (layer): CompressionPolicy => {
    const d = layer.headDim;
    const thresholds = new Float64Array(layer.kvHeads).fill(Number.NaN);
    const policy: CompressionPolicy & { thresholds: Float64Array } = {
      name: 'd2o',
      thresholds,
      apply: (head, keep, context) => {
        const drop = droppedIndices(context.store.count(head), keep);
        if (drop.length > 0 && keep.length > 0) {
          const { keys, values } = context.store.read(head);
          const { target, similarity } = nearestByCosine(keys, drop, keep, d);
          const mean = similarity.reduce((a, b) => a + b, 0) / similarity.length;
          const tau = Number.isNaN(thresholds[head]) ? mean : thresholds[head];
          const merged = new Map<number, number[]>();
          for (let i = 0; i < drop.length; i++) {
            if (similarity[i] < tau) continue;
            const list = merged.get(target[i]) ?? [];
            list.push(i);
            merged.set(target[i], list);
          }
          for (const [c, members] of merged) {
            const denominator = members.reduce((s, i) => s + Math.exp(similarity[i]), 0) + Math.E;
            const k = new Float32Array(d);
            const v = new Float32Array(d);
            for (let x = 0; x < d; x++) {
              let kk = (Math.E / denominator) * keys[c * d + x];
              let vv = (Math.E / denominator) * values[c * d + x];
              for (const i of members) {
                const w = Math.exp(similarity[i]) / denominator;
                kk += w * keys[drop[i] * d + x];
                vv += w * values[drop[i] * d + x];
              }
              k[x] = kk;
              v[x] = vv;
            }
            context.store.write(head, c, k, v);
          }
          thresholds[head] = Number.isNaN(thresholds[head]) ? mean : beta * thresholds[head] + (1 - beta) * mean;
        }
        shrinkHead(head, keep, context);
      },
    };
    return policy;
  };
}
