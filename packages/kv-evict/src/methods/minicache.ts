import { type CacheLayerFactory, requireSynchronousBackend } from '@kvkit/tensor-core';
import { numberInRange } from '../budget.js';
import { crossLayerFactory } from '../cross-layer/cross-layer-state.js';
import { CompressingLayer } from '../layer/compressing-layer.js';
import { MiniCachePair } from '../minicache/minicache-pair.js';
import type { CompressionPolicy } from '../policies/policy.js';
import { shrinkHead } from '../policies/policy.js';
import { raggedDenseStore } from '../storage/ragged-dense-store.js';
import type { TokenStoreFactory } from '@kvkit/tensor-core';

export interface MiniCacheOptions {
  /** First merged layer as a share of the depth (default 0.5: the middle-to-deep half is merged in adjacent pairs). */
  start?: number;
  /** SLERP interpolation factor (default 0.6, the paper's). */
  t?: number;
  /** Share of the most distinct token pairs kept unmerged (default 0.05). */
  retain?: number;
  /** Storage for unmerged tokens and merged directions (default f16 `raggedDenseStore()`). */
  store?: TokenStoreFactory;
}

/**
 * MiniCache (Liu et al., 2024): from layer ⌊start · L⌋ on, layers are merged in adjacent pairs
 * (l, l+1) per token: shared directions (SLERP), own norms, the most distinct tokens kept apart.
 * Earlier layers and an unpaired last layer stay dense. Merging happens after the second layer of a
 * pair attends, so both layers' current step is exact; later steps read the merged states. Composes
 * with quantization through `store`.
 */
export function miniCache(options: MiniCacheOptions = {}): CacheLayerFactory {
  const start = numberInRange(options.start ?? 0.5, 0, 1, 'minicache', 'start');
  const t = numberInRange(options.t ?? 0.6, 0, 1, 'minicache', 't');
  const retain = numberInRange(options.retain ?? 0.05, 0, 1, 'minicache', 'retain');
  const store = options.store ?? raggedDenseStore();
  return crossLayerFactory((spec, state) => {
    const first = Math.floor(start * spec.numLayers);
    const offset = spec.layerIndex - first;
    const paired = offset >= 0 && spec.layerIndex - (offset % 2) + 1 < spec.numLayers;
    if (!paired) return new CompressingLayer(spec, { name: 'minicache', store }, state);
    // Merging reads both layers' stored keys and values on the host (SLERP, magnitudes, retention).
    requireSynchronousBackend(spec.backend, 'minicache', 'merges adjacent layers on the host');
    const role = (offset % 2) as 0 | 1;
    const pairStart = spec.layerIndex - role;
    const pair = state.shared(`minicache:${pairStart}`, () => new MiniCachePair(store({ ...spec, layerIndex: pairStart }), spec.headDim, t, retain));
    const policy = (): CompressionPolicy => ({
      name: 'minicache-merge',
      apply: (head, keep, context) => {
        if (role === 1) pair.commit(head);
        else shrinkHead(head, keep, context);
      },
      extraKeys: (head) => pair.rebuilt(role, head),
      memory: () => pair.memory(role),
      dispose: () => {
        if (role === 1) pair.dispose();
      },
    });
    const layer = new CompressingLayer(
      spec,
      {
        name: 'minicache',
        store,
        policy,
        // The second layer of a pair plans the merge of both; the first never compresses by itself.
        selector: () => ({
          name: role === 1 ? 'minicache-plan' : 'minicache-hold',
          select: (context) => (role === 1 ? pair.plan(context.head) : Int32Array.from({ length: context.positions.length }, (_, i) => i)),
        }),
      },
      state,
    );
    pair.attach(role, layer);
    return layer;
  });
}
