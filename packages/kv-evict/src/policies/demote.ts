import type { TokenStore, TokenStoreFactory } from '@kvkit/tensor-core';
import { type CompressionPolicy, droppedIndices, type PolicyFactory, shrinkHead } from './policy.js';

/**
 * Demote instead of drop (the MiKV hook): tokens the selector did not keep move to a second, cheaper
 * store — a low-bit store from kv-quant, or any `TokenStoreFactory` — and attention keeps reading
 * them. The main store holds the important tokens at full precision; `memory()` reports both tiers
 * (the demoted one under `demoted.<part>`).
 */
export function demotePolicy(tier: TokenStoreFactory): PolicyFactory {
  return (layer) => {
    const demoted: TokenStore = tier({ kvHeads: layer.kvHeads, headDim: layer.headDim, backend: layer.backend, layerIndex: layer.layerIndex });
    const d = layer.headDim;
    const policy: CompressionPolicy = {
      name: 'demote',
      apply: (head, keep, context) => {
        const drop = droppedIndices(context.store.count(head), keep);
        if (drop.length > 0) {
          const { keys, values } = context.store.read(head);
          const positions = context.store.positions(head);
          const k = new Float32Array(drop.length * d);
          const v = new Float32Array(drop.length * d);
          const p = new Int32Array(drop.length);
          drop.forEach((i, r) => {
            k.set(keys.subarray(i * d, (i + 1) * d), r * d);
            v.set(values.subarray(i * d, (i + 1) * d), r * d);
            p[r] = positions[i];
          });
          demoted.appendHead(head, k, v, p);
        }
        shrinkHead(head, keep, context);
      },
      extraKeys: (head) => {
        if (demoted.count(head) === 0) return undefined;
        const { keys, values } = demoted.read(head);
        return { keys, values, positions: Int32Array.from(demoted.positions(head)) };
      },
      memory: () => Object.fromEntries(Object.entries(demoted.memory()).map(([part, bytes]) => [`demoted.${part}`, bytes])),
      dispose: () => demoted.dispose(),
    };
    return policy;
  };
}
