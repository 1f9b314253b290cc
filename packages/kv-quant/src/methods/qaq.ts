import type { CacheLayerFactory } from '@kvkit/tensor-core';
import { DenseSparseCodec } from '../codecs/dense-sparse-codec.js';
import { UniformTokenCodec } from '../codecs/uniform-codec.js';
import { assertUniformBits } from '../kernels/uniform.js';
import { tokenCodecLayer } from './token-layer.js';
import { type CommonQuantOptions, fraction, integer, outlierCount, resolveCommon } from './options.js';

export interface QaqOptions extends CommonQuantOptions {
  /** Bits of the keys (default 4: keys are the more sensitive side). */
  keyBits?: number;
  /** Bits of the values (default 2). */
  valueBits?: number;
  /** Share of each vector's entries kept exactly (default 0.01; at least one per vector when > 0). */
  outliers?: number;
  /** Channels per quantization group of a token; divides headDim (default 32). */
  groupSize?: number;
  /** First tokens kept in full precision (default 0). */
  sinks?: number;
  /** Newest tokens kept in full precision (default 0). */
  residual?: number;
}

/**
 * QAQ-style quantization (Dong et al. 2024): keys and values get separate bit widths (keys are
 * more sensitive), and the outliers of every vector are kept exactly in a sparse store so that they
 * do not stretch the quantization range of the rest.
 */
export function qaq(options: QaqOptions = {}): CacheLayerFactory {
  const where = 'qaq';
  const common = resolveCommon(options, where);
  const keyBits = options.keyBits ?? 4;
  const valueBits = options.valueBits ?? 2;
  assertUniformBits(keyBits, false, `${where} keys`);
  assertUniformBits(valueBits, false, `${where} values`);
  const share = fraction(options.outliers ?? 0.01, 'outliers', where, 0, 0.5);
  const groupSize = integer(options.groupSize ?? 32, 'groupSize', where, 1);
  const sinks = integer(options.sinks ?? 0, 'sinks', where);
  const residual = integer(options.residual ?? 0, 'residual', where);
  return (spec) => {
    const { headDim } = spec;
    const outliers = outlierCount(share, headDim);
    const codec = (bits: number, side: string) =>
      new DenseSparseCodec(
        new UniformTokenCodec(headDim, { bits, groupSize, symmetric: false, paramDType: common.dtype }, `${where} ${side}`),
        headDim,
        { outliers, center: 'mean', valueDType: common.dtype },
        `${where} ${side}`
      );
    return tokenCodecLayer(spec, {
      method: where,
      keyInput: 'post-rope',
      keys: codec(keyBits, 'keys'),
      values: codec(valueBits, 'values'),
      sinks,
      residual,
      ...common,
    });
  };
}
