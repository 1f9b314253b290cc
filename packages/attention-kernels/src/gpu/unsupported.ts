import { InvalidConfigError } from '@kvkit/tensor-core';
import type { KernelAttrs } from '../ops/attention-types.js';

/** Per-key statistics are computed by the CPU kernels only; a GPU call asking for them fails clearly. */
export function assertNoStatistics(attrs: KernelAttrs, where: string, backend: string): void {
  if (attrs.statistics.enabled) {
    throw new InvalidConfigError(`${where}: per-key statistics are not computed by the ${backend} kernels; run this call on the CPU backend (or use attentionStatistics there)`);
  }
}
