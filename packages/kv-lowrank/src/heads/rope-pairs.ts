import { InvalidConfigError, type RopeLayout } from '@kvkit/tensor-core';

/**
 * The channel pairs RoPE rotates together in a head of `headDim` channels with `frequencies` inverse
 * frequencies (tensor-core's rope kernel): 'half' pairs (i, i + frequencies), 'interleaved' pairs
 * (2i, 2i + 1); pair i turns by position·θ_i. Channels past 2·frequencies do not rotate.
 */
export function ropePairs(headDim: number, frequencies: number, layout: RopeLayout): { pairs: [number, number][]; unrotated: number[] } {
  if (!Number.isInteger(frequencies) || frequencies < 1 || 2 * frequencies > headDim) {
    throw new InvalidConfigError(`RoPE with ${frequencies} frequencies does not fit headDim ${headDim}`);
  }
  if (layout !== 'half' && layout !== 'interleaved') throw new InvalidConfigError(`unknown RoPE layout ${String(layout)}`);
  const pairs: [number, number][] = Array.from({ length: frequencies }, (_, i) => (layout === 'half' ? [i, i + frequencies] : [2 * i, 2 * i + 1]));
  const unrotated = Array.from({ length: headDim - 2 * frequencies }, (_, i) => 2 * frequencies + i);
  return { pairs, unrotated };
}
