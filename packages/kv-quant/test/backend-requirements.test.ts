// Methods that decide on the host each step (precision by attention rank; an FP8 scale fixed from the
// first tokens) need a backend that reads back synchronously. On WebGPU or CUDA they are refused
// when the cache is built, with a message that says so, instead of failing at the first step.
import { createCache } from '@kvkit/tensor-core';
import { asAsynchronousBackend, testCacheSpec } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { fp8, kivi, mixedPrecision, zipCache } from '../src/index.js';
import { cpu } from './helpers.js';

const onAsync = testCacheSpec({ backend: asAsynchronousBackend(cpu, 'gpu-like') });

describe('backend requirements', () => {
  it('refuses host-decided methods on an asynchronous backend when the cache is built', () => {
    for (const [name, method] of [
      ['fp8', fp8()],
      ['zipCache', zipCache()],
      ['mixedPrecision', mixedPrecision({ groupSize: 8 })],
    ] as const) {
      expect(() => createCache(onAsync, method), name).toThrow(
        expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(new RegExp(`^${name} .*"gpu-like" is asynchronous`)) }),
      );
    }
  });

  it('builds KIVI there: its quantization runs as device kernels', () => {
    const cache = createCache(onAsync, kivi({ bits: 2 }));
    expect(cache.layers.length).toBeGreaterThan(0);
    cache.dispose();
  });
});
