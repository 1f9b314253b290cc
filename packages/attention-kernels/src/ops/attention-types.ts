import type { AttentionMask, AttentionStatistics, Tensor } from '@kvkit/tensor-core';

/**
 * Which queries feed the per-key statistics, and how. `statistics: true` means every query with
 * weight 1 (H2O's accumulated attention).
 */
export interface StatisticsOptions {
  /** Only the last `window` queries contribute (SnapKV's observation window). Default: all. */
  window?: number;
  /** Query i of m adds decay^(m−1−i)·p to keySum (A2SF's forgetting factor). Default 1. keyMax is unweighted. */
  decay?: number;
  /**
   * Any weight per contributing query, oldest first (its length must be the number of contributing
   * queries: min(window, m), or m); replaces `decay`.
   */
  weights?: Float64Array | readonly number[];
  /**
   * Also return the probabilities of the last `rowProbabilities` contributing queries one by one,
   * [qHeads, rows, n] (SnapKV's per-row window, FastGen's head profiling). Default 0.
   */
  rowProbabilities?: number;
}

/** Statistics as the kernels resolve them (window 0 = every query). */
export interface StatisticsAttrs {
  enabled: boolean;
  window: number;
  decay: number;
  /** Weights of the contributing queries, oldest first (absent: powers of `decay`). */
  weights: Float64Array | undefined;
  /** How many of the last contributing queries also get their probability rows returned. */
  rowProbabilities: number;
}

/** Per-key statistics (tensor-core's `AttentionStatistics`) plus the count ZipCache normalizes by. */
export interface KeyStatistics extends AttentionStatistics {
  /**
   * f32 [kvHeads, n]: how many contributing queries can see each key (from the mask alone; ZipCache
   * normalizes keySum by it). Per KV head because paged caches keep different tokens per head.
   */
  queryCount: Tensor;
  /** f32 [qHeads, rows, n]: the probabilities of the last `rowProbabilities` contributing queries, oldest first. */
  rowProbabilities?: Tensor;
}

export interface KernelOptions extends AttentionMask {
  /** Also return per-key statistics (see `StatisticsOptions`). */
  statistics?: boolean | StatisticsOptions;
  /** Also return the log-sum-exp of each row's scores, to merge partial results (`mergeAttentionStates`). */
  returnLse?: boolean;
  /** Keys per tile (default 64). */
  tileSize?: number;
}

/** Per-key log weights, an option of the dense kernels. */
export interface KeyLogWeightsOption {
  /**
   * f32 [kvHeads, n]: a log multiplicity added to each key's score after soft-capping (a key that
   * stands for c merged tokens gets log c, so softmax weighs it as c copies).
   */
  keyLogWeights?: Tensor;
}

export interface KernelResult {
  /** [qHeads, m, dv] (batched: [batch, qHeads, m, dv]) in q's dtype. */
  output: Tensor;
  /** f32 [qHeads, m] (batched: [batch, qHeads, m]): log Σ exp(score); −∞ for a row that sees no key. */
  lse?: Tensor;
  statistics?: KeyStatistics;
}

/** The attributes every CPU/WebGPU/CUDA attention kernel of this package receives. */
export interface KernelAttrs {
  scale: number;
  causal: boolean;
  window: number;
  softcap: number;
  statistics: StatisticsAttrs;
  lse: boolean;
  tileSize: number;
}

/** A `KiviCacheView`'s layout numbers, as the fused KIVI decode kernels receive them. */
export interface KiviKernelAttrs extends KernelAttrs {
  partitionSize: number;
  /** The caller gave no partition size: a backend may choose its own (as SplitKAttrs.partitionAuto). */
  partitionAuto?: boolean;
  bits: number;
  groupSize: number;
  valueGroupSize: number;
  length: number;
  keyGroups: number;
  valueTokens: number;
}
