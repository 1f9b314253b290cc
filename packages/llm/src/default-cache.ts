import { ensureAttentionKernels, pagedCache } from '@kvkit/attention-kernels';
import { type Backend, type CacheMethod, denseCache, hasKernel } from '@kvkit/tensor-core';

/** The kernels the paged cache runs on: its attention and its page writes and moves. */
const PAGED_KERNELS = ['pagedAttention', 'pagedWrite', 'pagedMove'];

/**
 * The cache a model uses when the caller names none: @kvkit/attention-kernels' paged cache (fused
 * paged attention, no per-step concatenation of the whole cache) in the model's dtype, on backends
 * that have its kernels; tensor-core's dense cache elsewhere.
 */
export function defaultCacheMethod(backend: Backend, dtype: 'f32' | 'f16'): CacheMethod {
  ensureAttentionKernels(backend);
  const paged = PAGED_KERNELS.every((kernel) => hasKernel(kernel, backend.name));
  return paged ? pagedCache({ dtype }) : denseCache({ dtype });
}
