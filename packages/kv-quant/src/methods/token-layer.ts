import type { LayerSpec } from '@kvkit/tensor-core';
import type { TokenCodec } from '../codecs/codec.js';
import type { ChannelRotation } from '../layers/channel-rotation.js';
import { QuantizedCacheLayer } from '../layers/quantized-layer.js';
import type { ParamDType } from '../numeric/param-dtype.js';
import { TokenStream } from '../streams/token-stream.js';

export interface TokenLayerOptions {
  method: string;
  keyInput: 'post-rope' | 'pre-rope';
  keys: TokenCodec;
  values: TokenCodec;
  /** First tokens kept in full precision. */
  sinks: number;
  /** Newest tokens kept in full precision. */
  residual: number;
  dtype: ParamDType;
  initialCapacity: number;
  keyRotation?: ChannelRotation;
  valueRotation?: ChannelRotation;
}

/** A quantized layer whose keys and values are both per-token codes (sinks, codes, window). */
export function tokenCodecLayer(spec: LayerSpec, o: TokenLayerOptions): QuantizedCacheLayer {
  const stream = (codec: TokenCodec) =>
    new TokenStream(spec.backend, spec.kvHeads, spec.headDim, codec, {
      sinks: o.sinks,
      window: o.residual,
      storageDType: o.dtype,
      initialCapacity: o.initialCapacity,
    });
  return new QuantizedCacheLayer(spec, {
    method: o.method,
    keyInput: o.keyInput,
    storageDType: o.dtype,
    keys: stream(o.keys),
    values: stream(o.values),
    keyRotation: o.keyRotation,
    valueRotation: o.valueRotation,
    initialCapacity: o.initialCapacity,
  });
}
