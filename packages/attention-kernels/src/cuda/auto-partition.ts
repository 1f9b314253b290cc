import type { CudaBackend } from '@kvkit/tensor-core/cuda';
import { MMA_ROWS } from './mma-decode-plan.js';

/**
 * Pass-1 blocks an SM runs at once: the tensor-core pass's 103.5 KiB of shared memory (head dim 128)
 * fits twice in an H100/H200 SM.
 */
const BLOCKS_PER_SM = 2;
/**
 * Most keys the policy gives a partition. Measured on an H200 (2026-11-28, batch 8 × 8 KV heads,
 * head dim 128): f16 decode at 32k keys 0.651 ms with 512-key partitions, 0.437 ms with 8192; at
 * 128k 2.513 → 1.712 ms (16384: 1.687); KIVI 2-bit at 128k 1.497 → 0.904 ms (16384: 1.013).
 */
const MAX_PARTITION = 8192;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The split-K partition size CUDA picks when the caller gave none: as few partitions as fill one wave
 * of pass-1 blocks (partitions × KV rows × row chunks ≈ SMs × BLOCKS_PER_SM), times however many it
 * takes to keep each at most MAX_PARTITION keys, in whole `granule`s. Short partitions leave each
 * block a few steps between its ramp-up and its merge (at 512 keys, 8 per warp); too few blocks
 * leave SMs idle (16384 keys at 32k: 128 blocks for 264 places, 1.8× slower).
 */
export function autoPartition(multiprocessors: number, shape: { n: number; kvRows: number; rowsPerKvRow: number; granule: number }): number {
  const { n, kvRows, rowsPerKvRow, granule } = shape;
  const blocksPerPartition = kvRows * Math.max(1, Math.ceil(rowsPerKvRow / MMA_ROWS));
  const perWave = Math.max(1, Math.floor((multiprocessors * BLOCKS_PER_SM) / Math.max(1, blocksPerPartition)));
  const cap = Math.max(granule, Math.floor(MAX_PARTITION / granule) * granule);
  const parts = perWave * Math.max(1, Math.ceil(n / (perWave * cap)));
  return Math.max(granule, Math.ceil(n / parts / granule) * granule);
}

/** The unit partitions come in: whole 64-key rounds of the tensor-core pass's four warps, and whole `unit`s (key groups, pages). */
export function partitionGranule(unit = 1): number {
  return (64 * unit) / gcd(64, unit);
}

/** `attrs` with the CUDA partition size when the caller left it to the backend (partitionAuto). */
export function withAutoPartition<A extends { partitionSize: number; partitionAuto?: boolean }>(
  backend: CudaBackend,
  attrs: A,
  shape: { n: number; kvRows: number; rowsPerKvRow: number; groupSize?: number },
): A {
  if (!attrs.partitionAuto) return attrs;
  return { ...attrs, partitionSize: autoPartition(backend.device.multiprocessors, { ...shape, granule: partitionGranule(shape.groupSize) }) };
}
