import { type CompressionPolicy, droppedIndices, type PolicyFactory, shrinkHead } from './policy.js';

/**
 * RazorAttention's compensation token (Tang et al., 2024): the dropped tokens of a head are
 * summarized by the mean of their keys and the mean of their values, and attention weighs that one
 * token as many times as it stands for — its score gets + log(count), so
 * out = (Σ_kept e^{s_j} v_j + c·e^{q·k̄} v̄) / (Σ_kept e^{s_j} + c·e^{q·k̄}). Running sums make it
 * exact across several compressions. Its position is the newest dropped position (visible to every
 * later query).
 */
export function compensationPolicy(): PolicyFactory {
  return (layer): CompressionPolicy => {
    const d = layer.headDim;
    const sums = Array.from({ length: layer.kvHeads }, () => ({ keys: new Float64Array(d), values: new Float64Array(d), count: 0, position: 0 }));
    return {
      name: 'compensate',
      apply: (head, keep, context) => {
        const drop = droppedIndices(context.store.count(head), keep);
        if (drop.length > 0) {
          const { keys, values } = context.store.read(head);
          const positions = context.store.positions(head);
          const s = sums[head];
          for (const i of drop) {
            for (let c = 0; c < d; c++) {
              s.keys[c] += keys[i * d + c];
              s.values[c] += values[i * d + c];
            }
            s.position = Math.max(s.position, positions[i]);
          }
          s.count += drop.length;
        }
        shrinkHead(head, keep, context);
      },
      extraKeys: (head) => {
        const s = sums[head];
        if (s.count === 0) return undefined;
        return {
          keys: Float32Array.from(s.keys, (x) => x / s.count),
          values: Float32Array.from(s.values, (x) => x / s.count),
          positions: Int32Array.of(s.position),
          logWeights: Float32Array.of(Math.log(s.count)),
        };
      },
      // Running sums in float64 plus the count and position, per head.
      memory: () => ({ compensation: sums.reduce((bytes, s) => bytes + (s.count > 0 ? 2 * d * 8 + 8 : 0), 0) }),
    };
  };
}
