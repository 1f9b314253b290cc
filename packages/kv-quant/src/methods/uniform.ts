import { type CacheLayerFactory, InvalidConfigError, type LayerSpec } from '@kvkit/tensor-core';
import { UniformTokenCodec } from '../codecs/uniform-codec.js';
import { assertUniformBits } from '../kernels/uniform.js';
import { QuantizedCacheLayer } from '../layers/quantized-layer.js';
import { ChannelGroupStream } from '../streams/channel-group-stream.js';
import type { KVStream } from '../streams/stream.js';
import { TokenStream } from '../streams/token-stream.js';
import { type CommonQuantOptions, integer, oneOf, resolveCommon } from './options.js';

export type QuantAxis = 'token' | 'channel';

export interface UniformQuantOptions extends CommonQuantOptions {
  /** 1, 2, 3, 4 or 8 (asymmetric); 2, 3, 4 or 8 (symmetric). Default 4. */
  bits?: number;
  /** Symmetric (abs-max, no zero point) instead of asymmetric (min–max). Default false. */
  symmetric?: boolean;
  /** Quantization axis of keys and values: 'token' (groups of channels of one token) or 'channel' (groups of tokens of one channel). Default 'token'. */
  axis?: QuantAxis;
  /** Overrides `axis` for the keys. */
  keyAxis?: QuantAxis;
  /** Overrides `axis` for the values. */
  valueAxis?: QuantAxis;
  /** Per token: channels per group (must divide headDim). Per channel: tokens per group. Default 32. */
  groupSize?: number;
  /**
   * Full-precision tokens. Per token: a sliding window of the newest tokens. Per channel: tokens
   * collected before they are quantized as groups (a multiple of groupSize; 0 = one group). Default 0.
   */
  residual?: number;
}

export interface ResolvedUniform {
  bits: number;
  symmetric: boolean;
  keyAxis: QuantAxis;
  valueAxis: QuantAxis;
  groupSize: number;
  residual: number;
}

export function resolveUniform(options: UniformQuantOptions, where: string): ResolvedUniform {
  const bits = options.bits ?? 4;
  const symmetric = options.symmetric ?? false;
  assertUniformBits(bits, symmetric, where);
  const axis = oneOf(options.axis ?? 'token', ['token', 'channel'], 'axis', where);
  return {
    bits,
    symmetric,
    keyAxis: oneOf(options.keyAxis ?? axis, ['token', 'channel'], 'keyAxis', where),
    valueAxis: oneOf(options.valueAxis ?? axis, ['token', 'channel'], 'valueAxis', where),
    groupSize: integer(options.groupSize ?? 32, 'groupSize', where, 1),
    residual: integer(options.residual ?? 0, 'residual', where, 0),
  };
}

/** A stream quantized uniformly along `axis` (the building block of uniformQuant and KIVI). */
export function uniformStream(
  spec: LayerSpec,
  axis: QuantAxis,
  o: { bits: number; symmetric: boolean; groupSize: number; residual: number; dtype: 'f16' | 'f32'; initialCapacity: number },
  where: string
): KVStream {
  if (axis === 'channel') {
    return new ChannelGroupStream(
      spec.backend,
      spec.kvHeads,
      spec.headDim,
      {
        bits: o.bits,
        symmetric: o.symmetric,
        groupSize: o.groupSize,
        residual: o.residual,
        paramDType: o.dtype,
        storageDType: o.dtype,
        initialCapacity: o.initialCapacity,
      },
      where
    );
  }
  const codec = new UniformTokenCodec(spec.headDim, { bits: o.bits, groupSize: o.groupSize, symmetric: o.symmetric, paramDType: o.dtype }, where);
  return new TokenStream(spec.backend, spec.kvHeads, spec.headDim, codec, {
    sinks: 0,
    window: o.residual,
    storageDType: o.dtype,
    initialCapacity: o.initialCapacity,
  });
}

/**
 * The uniform integer baselines: symmetric or asymmetric INT8/4/3/2(/1) codes per token (groups of
 * channels) or per channel (groups of tokens), with an optional full-precision residual.
 */
export function uniformQuant(options: UniformQuantOptions = {}): CacheLayerFactory {
  const where = 'uniformQuant';
  const common = resolveCommon(options, where);
  const u = resolveUniform(options, where);
  return (spec) => {
    if (u.keyAxis === 'token' || u.valueAxis === 'token') {
      if (spec.headDim % u.groupSize !== 0) {
        throw new InvalidConfigError(`${where}: group size ${u.groupSize} must divide the head dimension (${spec.headDim}) for per-token groups`);
      }
    }
    const o = { ...u, ...common };
    return new QuantizedCacheLayer(spec, {
      method: where,
      keyInput: 'post-rope',
      storageDType: common.dtype,
      keys: uniformStream(spec, u.keyAxis, o, `${where} keys`),
      values: uniformStream(spec, u.valueAxis, o, `${where} values`),
      initialCapacity: common.initialCapacity,
    });
  };
}
