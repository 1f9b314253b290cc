export {
  type KiviCacheView,
  KIVI_BITS,
  dequantizeKivi,
  residualKeyTokens,
  residualValueTokens,
  validateKiviView,
} from './formats/kivi.js';

// Dense attention
export type { KernelAttrs, KernelOptions, KernelResult, KeyLogWeightsOption, KeyStatistics, KiviKernelAttrs, StatisticsAttrs, StatisticsOptions } from './ops/attention-types.js';
export { type FlashAttentionOptions, flashAttention } from './ops/flash-attention.js';
export { type BatchedDecodeOptions, type DecodeAttentionOptions, batchedDecodeAttention, decodeAttention } from './ops/decode-attention.js';
export { type AttentionState, mergeAttentionStates } from './ops/merge-states.js';

// Paged KV (per-head block tables over a page pool)
export { type PagedKVPoolOptions, PagedKVPool } from './paged/page-pool.js';
export type { BlockTableView } from './paged/block-table.js';
export { PagedSequence } from './paged/paged-sequence.js';
export { type PagedAttentionOptions, batchedPagedAttention, pagedAttention } from './ops/paged-attention.js';
export { type PagedCacheOptions, PagedCacheLayer, pagedCache } from './paged/paged-cache.js';
export { listMethods, pagedMethod } from './paged/paged-method.js';

// Prefix sharing (ChunkAttention)
export { type PrefixTreeOptions, ChunkNode, PrefixKVTree } from './prefix/prefix-tree.js';
export { PrefixSequence } from './prefix/prefix-sequence.js';
export { type PrefixSharedAttentionOptions, prefixSharedAttention } from './ops/prefix-attention.js';
export { type PrefixCacheOptions, type PrefixSharedCacheFactory, PrefixCacheLayer, prefixSharedCache } from './prefix/prefix-cache.js';

// Fused decode over compressed caches
export { type KiviDecodeOptions, kiviDecodeAttention } from './ops/kivi-decode.js';
export { type TokenCodesInput, TOKEN_CODE_BITS, isTokenCodesInput, validateTokenCodes } from './formats/token-codes.js';
export { type TokenCodesKernelAttrs, readsTokenCodes } from './ops/token-codes-attention.js';

export { type LatentAttentionOptions, latentAttention } from './ops/latent-attention.js';

// Statistics for eviction scorers
export { type AttentionStatisticsOptions, attentionStatistics } from './ops/attention-statistics.js';
export { type PoolOptions, poolKeyScores, reduceQueryGroups } from './ops/key-pooling.js';

export { ensureAttentionKernels } from './kernels.js';
