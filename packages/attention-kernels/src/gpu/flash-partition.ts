import type { Tensor } from '@kvkit/tensor-core';

/**
 * Keys per partition when the GPU backends run `flashAttention` (prefill) on their split-K kernels:
 * each block takes ≤ 8 query rows of one KV head (for m ≥ 8, consecutive queries of one query head)
 * over one partition of keys with an online softmax, and the partitions merge by log-sum-exp. Long
 * prompts get parallelism from both the query chunks and the key partitions. A 128-key tile no row
 * of a block can see (causal, window) costs a position test per key, not its loads. Prompts with
 * enough query rows to fill the GPU take one partition (FLASH_PARALLEL_ROWS).
 */
export const FLASH_PARTITION = 512;

/**
 * The f32 partial states of all partitions (rows × partitions × (dv + 2) floats) stay under this.
 * With a fixed 512-key partition they grow as m·n: a 16k-token prompt at 32 heads of 128 would
 * hold 8.7 GB of them. A prompt has plenty of parallelism in its query rows alone, so once the
 * partials would pass this, partitions grow instead.
 */
export const FLASH_PARTIALS_BYTES = 256 * 2 ** 20;

/**
 * Query rows (qHeads · m) that alone give a GPU enough blocks: 512 of CUDA's 64-row tensor-core
 * prefill blocks (≈ 2 waves of 2 blocks per SM on 132 SMs, heaviest causal blocks first; the 8-row
 * passes get 4096). Past them every key partition only adds partial states to write and merge
 * (f32 rows × (dv + 2) each: 17 MB at 1k tokens × 32 heads × 128, written and read back, about a
 * quarter of the attention's own time on an H200), so the prompt takes one partition.
 */
export const FLASH_PARALLEL_ROWS = 32768;

/** Partition sizes grow in whole tiles of the kernels' key chunk. */
const KEY_CHUNK = 128;

/** Keys per partition for a prefill of q [qHeads, m, d] over k [kvHeads, n, d], v [kvHeads, n, dv]. */
export function flashPartitionSize(q: Tensor, k: Tensor, v: Tensor): number {
  const rows = q.shape[0] * q.shape[1];
  const n = k.shape[1];
  const dv = v.shape[2];
  if (rows >= FLASH_PARALLEL_ROWS) return Math.max(FLASH_PARTITION, Math.ceil(n / KEY_CHUNK) * KEY_CHUNK);
  const bytesPerPartition = rows * (dv + 2) * 4;
  const affordable = Math.max(1, Math.floor(FLASH_PARTIALS_BYTES / Math.max(bytesPerPartition, 1)));
  const partitions = Math.min(Math.ceil(n / FLASH_PARTITION), affordable);
  return Math.max(FLASH_PARTITION, Math.ceil(n / Math.max(partitions, 1) / KEY_CHUNK) * KEY_CHUNK);
}
