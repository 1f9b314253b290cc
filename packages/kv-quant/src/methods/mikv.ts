import type { CacheLayerFactory } from '@kvkit/tensor-core';
import { UniformTokenCodec } from '../codecs/uniform-codec.js';
import { assertUniformBits } from '../kernels/uniform.js';
import { MixedPrecisionLayer } from '../layers/mixed-precision-layer.js';
import { resolveScorer, type TokenScorer } from '../scorers/token-scores.js';
import { type CommonQuantOptions, fraction, integer, resolveCommon } from './options.js';

export interface MixedPrecisionOptions extends CommonQuantOptions {
  /** The eviction scorer: 'accumulated' (H2O, default), 'normalized' (ZipCache) or a function. */
  scorer?: 'accumulated' | 'normalized' | TokenScorer;
  /** Bits of the tokens the scorer would evict (default 2; 1 allowed). */
  bits?: number;
  /** Bits of the tokens the scorer keeps (default 8). */
  highBits?: number;
  /** Share of the quantized tokens the scorer keeps at `highBits` (the eviction budget, default 0.2). */
  highRatio?: number;
  /** Channels per quantization group of a token; divides headDim (default 32). */
  groupSize?: number;
  /** Newest tokens kept in full precision (default 32). */
  recent?: number;
}

/**
 * MiKV-style mixed precision (Yang et al. 2024): instead of evicting the tokens an eviction scorer
 * would drop, keep them at 1–2 bits, and the ones it keeps at high precision. Tokens whose score
 * falls out of the budget later are re-coded at low precision, as an eviction policy would drop them.
 */
export function mixedPrecision(options: MixedPrecisionOptions = {}): CacheLayerFactory {
  const where = 'mixedPrecision';
  const common = resolveCommon(options, where);
  const bits = options.bits ?? 2;
  const highBits = options.highBits ?? 8;
  assertUniformBits(bits, false, where);
  assertUniformBits(highBits, false, `${where} (highBits)`);
  const scorer = resolveScorer(options.scorer ?? 'accumulated', where);
  const highRatio = fraction(options.highRatio ?? 0.2, 'highRatio', where);
  const groupSize = integer(options.groupSize ?? 32, 'groupSize', where, 1);
  const recent = integer(options.recent ?? 32, 'recent', where);
  return (spec) => {
    const codec = (b: number) => new UniformTokenCodec(spec.headDim, { bits: b, groupSize, symmetric: false, paramDType: common.dtype }, where);
    return new MixedPrecisionLayer(spec, {
      method: where,
      storageDType: common.dtype,
      high: { keys: codec(highBits), values: codec(highBits) },
      low: { keys: codec(bits), values: codec(bits) },
      scorer,
      highRatio,
      recent,
      demote: true,
      initialCapacity: common.initialCapacity,
    });
  };
}
