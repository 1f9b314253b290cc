import { cpuBackend } from '../cpu/cpu-backend.js';
import type { CacheSpec } from '../kv/contract.js';
import { ropeInverseFrequencies } from '../rope-config.js';

/**
 * A small CPU cache spec for KV-method tests (2 layers, 4 query / 2 KV heads, head dim 8 unless
 * overridden, half-layout RoPE with θ = 10000 for the given head dim).
 */
export function testCacheSpec(over: Partial<CacheSpec> = {}): CacheSpec {
  const headDim = over.headDim ?? 8;
  return {
    numLayers: 2,
    qHeads: 4,
    kvHeads: 2,
    headDim,
    maxPositions: 4096,
    backend: cpuBackend(),
    rope: { invFreq: ropeInverseFrequencies(headDim, 10000), layout: 'half' },
    ...over,
  };
}

/** Positions start, start + 1, …, start + n − 1. */
export const consecutivePositions = (start: number, n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => start + i);
