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
}

/** Statistics as the kernels resolve them (window 0 = every query). */
export interface StatisticsAttrs {
  enabled: boolean;
  window: number;
  decay: number;
}

/** Per-key statistics (tensor-core's `AttentionStatistics`) plus the count ZipCache normalizes by. */
export interface KeyStatistics extends AttentionStatistics {
  /**
   * f32 [kvHeads, n]: how many contributing queries can see each key (from the mask alone; ZipCache
   * normalizes keySum by it). Per KV head because paged caches keep different tokens per head.
   */
  queryCount: Tensor;
}

export interface KernelOptions extends AttentionMask {
  /** Also return per-key statistics (see `StatisticsOptions`). */
  statistics?: boolean | StatisticsOptions;
  /** Also return the log-sum-exp of each row's scores, to merge partial results (`mergeAttentionStates`). */
  returnLse?: boolean;
  /** Keys per tile (default 64). */
  tileSize?: number;
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
  bits: number;
  groupSize: number;
  valueGroupSize: number;
  length: number;
  keyGroups: number;
  valueTokens: number;
}
