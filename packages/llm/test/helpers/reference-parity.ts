import { join } from 'node:path';
import { PagedCacheLayer } from '@kvkit/attention-kernels';
import type { Backend } from '@kvkit/tensor-core';
import { assertClose } from '@kvkit/tensor-core/testing';
import { expect } from 'vitest';
import { loadModel } from '../../src/index.js';
import { readReference, rows, TORCH_REFERENCE } from './fixtures.js';

/**
 * The PyTorch-reference fixture `name` on a device backend, weights in `dtype`: prefill (logits of
 * every prompt position) and then cached decode one token at a time on the default (paged) cache,
 * each against the float64 reference logits within `tolerance`.
 */
export async function expectTorchReferenceOn(backend: Backend, name: string, dtype: 'f32' | 'f16', tolerance: number): Promise<void> {
  const dir = join(TORCH_REFERENCE, name);
  const ref = readReference(dir);
  const model = await loadModel(dir, { backend, dtype });
  const cache = model.createCache();
  try {
    expect(cache.layers.every((layer) => layer instanceof PagedCacheLayer)).toBe(true);
    const ids = Int32Array.from(ref.ids);
    const p = ref.prompt_tokens;
    const prefill = model.forward(ids.subarray(0, p), cache, { logits: 'all' });
    expect(prefill.backend.name).toBe(backend.name);
    assertClose(await prefill.readFloat32(), rows(ref.logits, 0, p), tolerance, `${name} prefill`);
    prefill.dispose();
    for (let t = p; t < ids.length; t++) {
      const step = model.forward(ids.subarray(t, t + 1), cache, { logits: 'last' });
      assertClose(await step.readFloat32(), rows(ref.logits, t, t + 1), tolerance, `${name} decode position ${t}`);
      step.dispose();
    }
  } finally {
    cache.dispose();
    model.dispose();
  }
}
