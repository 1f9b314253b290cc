import type { CacheLayerFactory } from '@kvkit/tensor-core';
import { ChannelSeparableCodec, SharedChannelScales } from '../codecs/channel-separable-codec.js';
import { UniformTokenCodec } from '../codecs/uniform-codec.js';
import { assertUniformBits } from '../kernels/uniform.js';
import { MixedPrecisionLayer } from '../layers/mixed-precision-layer.js';
import { normalizedAttention } from '../scorers/token-scores.js';
import { type CommonQuantOptions, fraction, integer, resolveCommon } from './options.js';

export interface ZipCacheOptions extends CommonQuantOptions {
  /** Bits of the ordinary tokens (default 2). */
  bits?: number;
  /** Bits of the salient tokens (default 4). */
  highBits?: number;
  /** Share of the quantized tokens kept at `highBits`, by normalized attention (default 0.3). */
  salientRatio?: number;
  /** Newest tokens kept in full precision until their saliency is known (default 32). */
  recent?: number;
}

/**
 * ZipCache (He et al. 2024): channel-separable token-wise quantization (channels divided by
 * √max|x| per channel, then one scale per token) and mixed precision by saliency, where saliency
 * is the normalized attention score — accumulated attention divided by the number of queries that
 * could see the token — gathered from the attention statistics.
 */
export function zipCache(options: ZipCacheOptions = {}): CacheLayerFactory {
  const where = 'zipCache';
  const common = resolveCommon(options, where);
  const bits = options.bits ?? 2;
  const highBits = options.highBits ?? 4;
  assertUniformBits(bits, false, where);
  assertUniformBits(highBits, false, `${where} (highBits)`);
  const salientRatio = fraction(options.salientRatio ?? 0.3, 'salientRatio', where);
  const recent = integer(options.recent ?? 32, 'recent', where);
  return (spec) => {
    const { backend, kvHeads, headDim } = spec;
    const keyScales = new SharedChannelScales(backend, kvHeads, headDim);
    const valueScales = new SharedChannelScales(backend, kvHeads, headDim);
    const codec = (b: number, scales: SharedChannelScales) =>
      new ChannelSeparableCodec(
        new UniformTokenCodec(headDim, { bits: b, groupSize: headDim, symmetric: false, paramDType: common.dtype }, where),
        scales
      );
    return new MixedPrecisionLayer(spec, {
      method: where,
      storageDType: common.dtype,
      high: { keys: codec(highBits, keyScales), values: codec(highBits, valueScales) },
      low: { keys: codec(bits, keyScales), values: codec(bits, valueScales) },
      scorer: normalizedAttention,
      highRatio: salientRatio,
      recent,
      demote: false,
      initialCapacity: common.initialCapacity,
      extraMemory: () => ({ scales: keyScales.bytes() + valueScales.bytes() }),
      onDispose: () => {
        keyScales.dispose();
        valueScales.dispose();
      },
    });
  };
}
