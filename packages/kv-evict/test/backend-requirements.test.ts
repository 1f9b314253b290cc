// Methods that score, cluster or merge on the host need a backend that reads back synchronously.
// On WebGPU or CUDA they are refused when the cache is built, with a message that says so, instead
// of failing in readSync at the first step of a generation.
import { createCache } from '@kvkit/tensor-core';
import { asAsynchronousBackend } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { clusterKV, h2o, l2norm, miniCache, snapKV, streamingLLM } from '../src/index.js';
import { backend, cacheSpec } from './helpers.js';

const onAsync = cacheSpec({ numLayers: 4, backend: asAsynchronousBackend(backend, 'gpu-like') });

describe('backend requirements', () => {
  it('refuses host-scored, clustered and merged methods on an asynchronous backend when the cache is built', () => {
    for (const [name, method] of [
      ['h2o', h2o({ budget: 0.5 })],
      ['snapkv', snapKV({ budget: 0.5 })],
      ['l2norm', l2norm({ budget: 0.5, skipLayers: 0 })],
      ['clusterkv', clusterKV({ budget: 0.5 })],
      ['minicache', miniCache({})],
    ] as const) {
      expect(() => createCache(onAsync, method), name).toThrow(
        expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(new RegExp(`^${name} .*"gpu-like" is asynchronous`)) }),
      );
    }
  });

  it('builds StreamingLLM there: recency needs no reads', () => {
    const cache = createCache(onAsync, streamingLLM({ budget: 16 }));
    expect(cache.layers).toHaveLength(4);
    cache.dispose();
  });
});
