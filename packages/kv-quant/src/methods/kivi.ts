import { KIVI_BITS, type KiviCacheView } from '@kvkit/attention-kernels';
import {
  type AttendOptions,
  type AttendResult,
  type CacheLayerFactory,
  type LayerSpec,
  type Tensor,
  UnsupportedBitWidthError,
  validateAttend,
} from '@kvkit/tensor-core';
import { assertGroupDivides } from '../codecs/uniform-codec.js';
import { kiviAttend } from '../layers/kivi-attend.js';
import { QuantizedCacheLayer } from '../layers/quantized-layer.js';
import type { ChannelGroupStream } from '../streams/channel-group-stream.js';
import type { TokenStream } from '../streams/token-stream.js';
import { type CommonQuantOptions, integer, resolveCommon } from './options.js';
import { uniformStream } from './uniform.js';

export interface KiviOptions extends CommonQuantOptions {
  /** 2, 4 or 8 (the KIVI format's widths). Default 2. */
  bits?: number;
  /** Tokens per key group (keys are quantized per channel over these tokens). Default 32. */
  groupSize?: number;
  /** Channels per value group (values are quantized per token); divides headDim. Default: groupSize when it divides headDim, else headDim. */
  valueGroupSize?: number;
  /**
   * Full-precision residual R, a multiple of groupSize. Keys wait there until R have accumulated
   * and are then quantized as R / groupSize groups; the newest R values stay in a sliding window.
   * Default 128.
   */
  residual?: number;
}

/**
 * KIVI (Liu et al. 2024): asymmetric 2/4-bit codes, keys per channel in groups of tokens, values per
 * token in groups of channels, and a full-precision residual — streaming, at prefill and at every
 * decode step. The layer stores exactly `KiviCacheView` (see `view()`), the format the fused
 * decode kernels of @kvkit/attention-kernels read.
 */
export function kivi(options: KiviOptions = {}): CacheLayerFactory {
  const where = 'kivi';
  const common = resolveCommon(options, where);
  const bits = options.bits ?? 2;
  if (!(KIVI_BITS as readonly number[]).includes(bits)) throw new UnsupportedBitWidthError(bits, KIVI_BITS, where);
  const groupSize = integer(options.groupSize ?? 32, 'groupSize', where, 1);
  const residual = integer(options.residual ?? 128, 'residual', where, 0);
  return (spec) => {
    const valueGroupSize = options.valueGroupSize ?? (spec.headDim % groupSize === 0 ? groupSize : spec.headDim);
    assertGroupDivides(valueGroupSize, spec.headDim, `${where} values`);
    return new KiviLayer(spec, { bits, groupSize, valueGroupSize, residual, ...common });
  };
}

export class KiviLayer extends QuantizedCacheLayer {
  readonly bits: 2 | 4 | 8;
  readonly groupSize: number;
  readonly valueGroupSize: number;

  constructor(
    spec: LayerSpec,
    o: { bits: number; groupSize: number; valueGroupSize: number; residual: number; dtype: 'f16' | 'f32'; initialCapacity: number }
  ) {
    const shared = { bits: o.bits, symmetric: false, residual: o.residual, dtype: o.dtype, initialCapacity: o.initialCapacity };
    super(spec, {
      method: 'kivi',
      keyInput: 'post-rope',
      storageDType: o.dtype,
      keys: uniformStream(spec, 'channel', { ...shared, groupSize: o.groupSize }, 'kivi keys'),
      values: uniformStream(spec, 'token', { ...shared, groupSize: o.valueGroupSize }, 'kivi values'),
      initialCapacity: o.initialCapacity,
    });
    this.bits = o.bits as 2 | 4 | 8;
    this.groupSize = o.groupSize;
    this.valueGroupSize = o.valueGroupSize;
  }

  /**
   * The stored cache as the shared KIVI format. The tensors are the layer's own buffers (capacity
   * included), valid until the next append.
   */
  view(): KiviCacheView {
    this.assertAlive();
    const keys = this.keys as ChannelGroupStream;
    const values = this.values as TokenStream;
    return {
      bits: this.bits,
      groupSize: this.groupSize,
      valueGroupSize: this.valueGroupSize,
      kvHeads: this.kvHeads,
      headDim: this.headDim,
      length: this.length,
      keyGroups: keys.groups.count,
      valueTokens: values.quantized.count,
      keyCodes: keys.groups.buffer('codes').tensor,
      keyScale: keys.groups.buffer('scale').tensor,
      keyMin: keys.groups.buffer('zero').tensor,
      valueCodes: values.quantized.buffer('codes').tensor,
      valueScale: values.quantized.buffer('scale').tensor,
      valueMin: values.quantized.buffer('zero').tensor,
      residualKeys: keys.residual.buffer('rows').tensor,
      residualValues: values.window.buffer('rows').tensor,
      positions: this.positionStorage,
    };
  }

  override attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    return kiviAttend(this.view(), q, options);
  }
}
