import { zeros } from '@kvkit/tensor-core';
import { describe, expect, it } from 'vitest';
import { FLASH_PARALLEL_ROWS, FLASH_PARTIALS_BYTES, FLASH_PARTITION, flashPartitionSize } from '../src/gpu/flash-partition.js';

const shapes = (qHeads: number, m: number, kvHeads: number, n: number, d: number) =>
  [zeros([qHeads, m, d]), zeros([kvHeads, n, d]), zeros([kvHeads, n, d])] as const;
const partialBytes = (rows: number, n: number, dv: number, partition: number) => rows * Math.ceil(n / partition) * (dv + 2) * 4;

describe('flashPartitionSize', () => {
  it('keeps 512-key partitions while the partial states are small', () => {
    expect(flashPartitionSize(...shapes(4, 1, 2, 5000, 64))).toBe(FLASH_PARTITION);
    expect(flashPartitionSize(...shapes(8, 300, 2, 300, 64))).toBe(FLASH_PARTITION);
  });

  it('grows the partitions of long prompts so the partials stay under the budget', () => {
    // 32 heads × 16k queries of 128: 512-key partitions would need 8.7 GB of partial states.
    for (const n of [4096, 16384, 32768]) {
      const [q, k, v] = shapes(32, n, 8, n, 128);
      const partition = flashPartitionSize(q, k, v);
      const rows = 32 * n;
      expect(partition % 128, `n = ${n}`).toBe(0);
      expect(partition).toBeGreaterThan(FLASH_PARTITION);
      // One partition (the floor) may exceed the budget only because the output rows alone do.
      const bytes = partialBytes(rows, n, 128, partition);
      expect(bytes <= FLASH_PARTIALS_BYTES || Math.ceil(n / partition) === 1, `n = ${n}: ${bytes} B`).toBe(true);
    }
  });

  it('covers every key with at most as many partitions as 512-key ones', () => {
    for (const [m, n] of [[1024, 1000], [2048, 2049], [4096, 12345]]) {
      const partition = flashPartitionSize(...shapes(16, m, 4, n, 64));
      expect(Math.ceil(n / partition)).toBeGreaterThanOrEqual(1);
      expect(Math.ceil(n / partition)).toBeLessThanOrEqual(Math.ceil(n / FLASH_PARTITION));
    }
  });

  it('takes one partition once the query rows alone fill the GPU', () => {
    // 32 heads × 1024 queries = 32768 rows: 512 blocks of 64 rows without splitting the keys.
    for (const [m, n] of [[1024, 1024], [4096, 4096], [4096, 12345], [16384, 16384]]) {
      expect(32 * m).toBeGreaterThanOrEqual(FLASH_PARALLEL_ROWS);
      const partition = flashPartitionSize(...shapes(32, m, 8, n, 128));
      expect(Math.ceil(n / partition), `m ${m}, n ${n}`).toBe(1);
      expect(partition % 128).toBe(0);
    }
    // 16 heads × 1024 queries: half that, so the keys still split (512-key partitions, 2 of them).
    expect(flashPartitionSize(...shapes(16, 1024, 4, 1024, 128))).toBe(FLASH_PARTITION);
  });
});
