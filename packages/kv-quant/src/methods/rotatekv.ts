import { type CacheLayerFactory, InvalidConfigError, type LayerSpec } from '@kvkit/tensor-core';
import type { KVCalibration } from '../calibration/calibration.js';
import { outlierAwareOrder } from '../calibration/fit.js';
import { UniformTokenCodec } from '../codecs/uniform-codec.js';
import { assertUniformBits } from '../kernels/uniform.js';
import { ChannelRotation } from '../layers/channel-rotation.js';
import { largestPowerOfTwoDividing } from '../numeric/hadamard.js';
import { tokenCodecLayer } from './token-layer.js';
import { type CommonQuantOptions, integer, oneOf, resolveCommon } from './options.js';

export interface RotateKvOptions extends CommonQuantOptions {
  /** Bits per value (asymmetric, per token): 1, 2, 3, 4 or 8. Default 2. */
  bits?: number;
  /** Channels per quantization group of a token; divides headDim. Default 32. */
  groupSize?: number;
  /** Where keys are rotated: before RoPE (default; RoPE is re-applied after de-rotation) or after it (queries get the same rotation). */
  keyInput?: 'pre-rope' | 'post-rope';
  /** KV heads rotated together (pre-RoPE grouped-head rotation). Default: all KV heads before RoPE, 1 after. */
  headGroup?: number;
  /** Walsh–Hadamard block size, a power of two dividing headGroup·headDim. Default: the largest power of two dividing headDim. */
  blockSize?: number;
  /** Rotate the values too (per head; undone on the attention output). Default true. */
  rotateValues?: boolean;
  /** Key activations for the outlier-aware channel order; without it channels keep their order. */
  calibration?: KVCalibration;
  /** First tokens kept in full precision: attention-sink-aware quantization (default 1). */
  sinks?: number;
  /** Newest tokens kept in full precision (default 0). */
  residual?: number;
}

/**
 * RotateKV-style rotation (Su et al. 2025): keys (and values) are rotated by a block fast
 * Walsh–Hadamard transform after an outlier-aware channel reordering, which flattens channel
 * outliers so that low-bit per-token quantization works; keys are rotated before RoPE across a
 * group of heads; the attention-sink tokens stay in full precision.
 */
export function rotateKV(options: RotateKvOptions = {}): CacheLayerFactory {
  const where = 'rotateKV';
  const common = resolveCommon(options, where);
  const bits = options.bits ?? 2;
  assertUniformBits(bits, false, where);
  const groupSize = integer(options.groupSize ?? 32, 'groupSize', where, 1);
  const keyInput = oneOf(options.keyInput ?? 'pre-rope', ['pre-rope', 'post-rope'] as const, 'keyInput', where);
  const sinks = integer(options.sinks ?? 1, 'sinks', where);
  const residual = integer(options.residual ?? 0, 'residual', where);
  if (keyInput === 'post-rope' && options.headGroup !== undefined && options.headGroup !== 1) {
    throw new InvalidConfigError(
      `${where}: a post-RoPE rotation is moved onto the queries, so it must be per head (headGroup 1), got ${options.headGroup}`
    );
  }
  const orders = new Map<number, Int32Array[]>();

  const channelOrders = (spec: LayerSpec, headGroup: number, blockSize: number): Int32Array[] | undefined => {
    const calibration = options.calibration;
    if (!calibration) return undefined;
    const cached = orders.get(spec.layerIndex);
    if (cached) return cached;
    const keys = calibration.keys(spec.layerIndex, keyInput, where);
    const n = calibration.layer(spec.layerIndex, where).tokens;
    const d = spec.headDim;
    const width = headGroup * d;
    const result: Int32Array[] = [];
    for (let g = 0; g < spec.kvHeads / headGroup; g++) {
      const rows = new Float32Array(n * width);
      for (let j = 0; j < headGroup; j++) {
        const h = g * headGroup + j;
        for (let t = 0; t < n; t++) rows.set(keys.subarray((h * n + t) * d, (h * n + t + 1) * d), t * width + j * d);
      }
      result.push(outlierAwareOrder(rows, n, width, blockSize));
    }
    orders.set(spec.layerIndex, result);
    return result;
  };

  return (spec) => {
    const { backend, kvHeads, headDim } = spec;
    const headGroup = options.headGroup ?? (keyInput === 'pre-rope' ? kvHeads : 1);
    const blockSize = options.blockSize ?? largestPowerOfTwoDividing(headDim);
    const keyRotation = new ChannelRotation(
      backend,
      { kvHeads, headDim, headGroup, blockSize, permutations: channelOrders(spec, headGroup, blockSize) },
      `${where} keys`
    );
    const valueRotation =
      options.rotateValues === false
        ? undefined
        : new ChannelRotation(backend, { kvHeads, headDim, headGroup: 1, blockSize: largestPowerOfTwoDividing(headDim) }, `${where} values`);
    const codec = () => new UniformTokenCodec(headDim, { bits, groupSize, symmetric: false, paramDType: common.dtype }, where);
    return tokenCodecLayer(spec, { method: where, keyInput, keys: codec(), values: codec(), sinks, residual, keyRotation, valueRotation, ...common });
  };
}
