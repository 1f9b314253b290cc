import type { MethodDescriptor } from '@kvkit/tensor-core';
import { pagedCache } from './paged-cache.js';

/**
 * The paged cache as a method harnesses list beside the KV packages' (`paged`,
 * `paged:dtype=f32:pageSize=64`): every token kept, in pages read by the fused paged kernel. Next
 * to tensor-core's `dense` row (the float64 reference attention every method's quality is measured
 * against) it is the uncompressed cache at the speed a runtime gets (@kvkit/llm's default cache).
 */
export const pagedMethod: MethodDescriptor = {
  name: 'paged',
  package: '@kvkit/attention-kernels',
  description: 'the uncompressed cache in pages, attended by the fused paged kernel (PagedAttention, Kwon et al., 2023): the speed baseline',
  params: [
    { name: 'dtype', type: 'string', description: 'storage dtype of K and V', default: 'f16', values: ['f16', 'f32'] },
    { name: 'pageSize', type: 'integer', description: 'tokens per page', default: 16, min: 1 },
  ],
  create: (p) => pagedCache({ dtype: p.dtype as 'f16' | 'f32', pageSize: p.pageSize as number }),
};

/** The methods this package publishes (kv-bench lists them beside the KV packages'). */
export function listMethods(): MethodDescriptor[] {
  return [pagedMethod];
}
