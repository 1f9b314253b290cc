/**
 * Keys per partition when the GPU backends run `flashAttention` (prefill) on their split-K kernels:
 * each block takes ≤ 8 query rows of one KV head (for m ≥ 8, consecutive queries of one query head)
 * over one partition of keys with an online softmax, and the partitions merge by log-sum-exp. Long
 * prompts get parallelism from both the query chunks and the key partitions; keys no row of a block
 * can see (causal, window) cost a position test, never a dot product.
 */
export const FLASH_PARTITION = 512;
