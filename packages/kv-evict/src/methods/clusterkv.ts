import type { CacheLayerFactory } from '@kvkit/tensor-core';
import { nonNegativeInteger, positiveInteger, validateBudget } from '../budget.js';
import { ClusterKVLayer } from '../clusterkv/clusterkv-layer.js';
import { type GqaReduce, validateGqa } from '../gqa.js';
import { raggedDenseStore } from '../storage/ragged-dense-store.js';
import type { TokenStoreFactory } from '@kvkit/tensor-core';

export interface ClusterKVOptions {
  /** Tokens attention reads per step: a fraction of the tokens seen or a count. */
  budget: number;
  /** First tokens always read (default 4). */
  sinks?: number;
  /** Most recent tokens always read, not yet clustered (default 32). */
  recent?: number;
  /** Mean tokens per cluster (default 16). */
  clusterSize?: number;
  /** While decoding, cluster old tokens once this many wait (default 32). */
  interval?: number;
  /** k-means iterations (default 10) and seed (default 0). */
  iterations?: number;
  seed?: number;
  gqa?: GqaReduce;
  /** Where all tokens live (the cheaper tier; default f16 `raggedDenseStore()`). */
  store?: TokenStoreFactory;
}

/** ClusterKV (Liu et al., 2024): recallable selection of semantic clusters of keys under a token budget. */
export function clusterKV(options: ClusterKVOptions): CacheLayerFactory {
  const config = {
    budget: validateBudget(options.budget, 'clusterkv'),
    sinks: nonNegativeInteger(options.sinks ?? 4, 'clusterkv', 'sinks'),
    recent: nonNegativeInteger(options.recent ?? 32, 'clusterkv', 'recent'),
    clusterSize: positiveInteger(options.clusterSize ?? 16, 'clusterkv', 'clusterSize'),
    interval: positiveInteger(options.interval ?? 32, 'clusterkv', 'interval'),
    iterations: positiveInteger(options.iterations ?? 10, 'clusterkv', 'iterations'),
    seed: nonNegativeInteger(options.seed ?? 0, 'clusterkv', 'seed'),
    gqa: validateGqa(options.gqa ?? 'mean', 'clusterkv'),
    store: options.store ?? raggedDenseStore(),
  };
  return (spec) => new ClusterKVLayer(spec, config);
}
