// CUDA's split-K partition policy (cuda/auto-partition.ts) against its definition: one wave of pass-1
// blocks (2 per SM), at most 8192 keys a partition, whole granules, every key covered; and the
// measured H200 shapes it was fitted to give the sizes the sweep found fastest.
import { createRng } from '@kvkit/tensor-core';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { autoPartition, partitionGranule, withAutoPartition } from '../src/cuda/auto-partition.js';

const H200_SMS = 132;

describe('autoPartition', () => {
  it('gives the measured best sizes on an H200 for batch 8 × 8 KV heads, 4 query heads each', () => {
    const shape = { kvRows: 64, rowsPerKvRow: 4, granule: 64 };
    expect(autoPartition(H200_SMS, { ...shape, n: 32768 })).toBe(8192); // 4 partitions × 64 rows = 256 blocks for 264 places
    expect(autoPartition(H200_SMS, { ...shape, n: 131072 })).toBe(8192); // capped: 16 partitions
    expect(autoPartition(H200_SMS, { ...shape, n: 4096 })).toBe(1024);
  });

  it('gives one partition per KV row once the rows alone fill a wave, and never less than a granule', () => {
    expect(autoPartition(H200_SMS, { n: 5000, kvRows: 1024, rowsPerKvRow: 1, granule: 64 })).toBe(5056);
    expect(autoPartition(H200_SMS, { n: 3, kvRows: 8, rowsPerKvRow: 4, granule: 64 })).toBe(64);
  });

  it('counts 16-row chunks of a KV row as blocks of their own', () => {
    const one = autoPartition(H200_SMS, { n: 65536, kvRows: 8, rowsPerKvRow: 16, granule: 64 });
    const two = autoPartition(H200_SMS, { n: 65536, kvRows: 8, rowsPerKvRow: 17, granule: 64 });
    expect(Math.ceil(65536 / one) * 8).toBeLessThanOrEqual(2 * H200_SMS);
    expect(Math.ceil(65536 / two) * 16).toBeLessThanOrEqual(2 * H200_SMS);
    expect(two).toBeGreaterThan(one);
  });

  it('fills a wave unless the rows or the cap force more, covers every key in granules of at most 8192 keys, on random shapes', () => {
    const seed = freshSeed();
    const rng = createRng(seed);
    for (let t = 0; t < 500; t++) {
      const sms = 1 + rng.int(160);
      const shape = { n: 1 + rng.int(300_000), kvRows: 1 + rng.int(512), rowsPerKvRow: 1 + rng.int(64), granule: [64, 192, 128][rng.int(3)] };
      const p = autoPartition(sms, shape);
      const parts = Math.ceil(shape.n / p);
      const blocksPerPartition = shape.kvRows * Math.ceil(shape.rowsPerKvRow / 16);
      const blocks = parts * blocksPerPartition;
      const where = `seed ${seed}, sms ${sms}, ${JSON.stringify(shape)} → ${p}`;
      expect(p % shape.granule, where).toBe(0);
      expect(p, where).toBeLessThanOrEqual(Math.max(8192, shape.granule));
      expect(parts * p, where).toBeGreaterThanOrEqual(shape.n);
      // more than one wave only where the rows alone fill more than half a wave, or the cap splits
      // each wave's partitions further (then they hold over 4096 keys)
      if (blocks > 2 * sms) expect(blocksPerPartition > sms || p > 4096 - shape.granule, where).toBe(true);
    }
  });
});

describe('partitionGranule', () => {
  it('is the least common multiple of 64 keys and the unit (key group or page)', () => {
    expect([1, 16, 32, 48, 64, 100, 128].map((u) => partitionGranule(u))).toEqual([64, 64, 64, 192, 64, 1600, 128]);
  });
});

describe('withAutoPartition', () => {
  const backend = { device: { multiprocessors: H200_SMS } } as Parameters<typeof withAutoPartition>[0];

  it('keeps a partition size the caller gave', () => {
    const attrs = { partitionSize: 300, partitionAuto: false };
    expect(withAutoPartition(backend, attrs, { n: 32768, kvRows: 64, rowsPerKvRow: 4 })).toBe(attrs);
  });

  it('sizes KIVI partitions in whole key groups and 64-key rounds', () => {
    const attrs = withAutoPartition(backend, { partitionSize: 512, partitionAuto: true }, { n: 32768, kvRows: 64, rowsPerKvRow: 4, groupSize: 48 });
    expect(attrs.partitionSize % 192).toBe(0); // lcm(64, 48)
    expect(attrs.partitionSize).toBeLessThanOrEqual(8064); // the largest such multiple within 8192 keys
  });
});
