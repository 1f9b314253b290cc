import { dequantizeKivi, type KiviCacheView } from '@kvkit/attention-kernels';
import { type AttendOptions, type AttendResult, attention, slice, tensor } from '@kvkit/tensor-core';
import type { Tensor } from '@kvkit/tensor-core';

/**
 * Attention over a KIVI cache. Today: the reference dequantizer of @kvkit/attention-kernels, then
 * tensor-core's attention. This is the one function to switch to the fused `kiviDecodeAttention`
 * kernel when it lands; the stored format does not change.
 */
export function kiviAttend(view: KiviCacheView, q: Tensor, options: AttendOptions): AttendResult {
  const { keys, values } = dequantizeKivi(view);
  const keyPositions = slice(view.positions, [0], [view.length]);
  const queryPositions = tensor(options.positions, [options.positions.length], { dtype: 'i32', backend: q.backend });
  const { positions: _positions, ...mask } = options;
  try {
    return attention(q, keys, values, { ...mask, queryPositions, keyPositions });
  } finally {
    for (const t of [keys, values, keyPositions, queryPositions]) t.dispose();
  }
}
