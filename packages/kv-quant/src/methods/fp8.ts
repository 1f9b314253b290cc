import type { CacheLayerFactory, LayerSpec } from '@kvkit/tensor-core';
import type { KVCalibration } from '../calibration/calibration.js';
import { type Fp8Scaling, Fp8TokenCodec } from '../codecs/fp8-codec.js';
import { FP8_FORMATS, type Fp8Format } from '../numeric/fp8.js';
import { tokenCodecLayer } from './token-layer.js';
import { type CommonQuantOptions, integer, oneOf, resolveCommon } from './options.js';

export interface Fp8Options extends CommonQuantOptions {
  /** 'e4m3' (default) or 'e5m2'. */
  format?: Fp8Format;
  /** One scale per layer ('per-tensor') or per KV head ('per-head', default). */
  scaling?: Fp8Scaling;
  /** Calibrated scales (abs-max of the calibration K/V); without it, scales come from the first append. */
  calibration?: KVCalibration;
  /** First tokens kept in full precision (default 0). */
  sinks?: number;
  /** Newest tokens kept in full precision (default 0). */
  window?: number;
}

/** Abs-max of calibration activations per KV head ([kvHeads, n, d]), or over all heads. */
function calibratedAbsMax(x: Float32Array, heads: number, scaling: Fp8Scaling): Float32Array {
  const perHead = new Float32Array(heads);
  const stride = x.length / heads;
  for (let i = 0; i < x.length; i++) perHead[Math.floor(i / stride)] = Math.max(perHead[Math.floor(i / stride)], Math.abs(x[i]));
  return scaling === 'per-head' ? perHead : Float32Array.of(Math.max(...perHead));
}

/** FP8 KV cache (vLLM/FlashInfer style): e4m3 or e5m2 codes with per-tensor or per-head scales. */
export function fp8(options: Fp8Options = {}): CacheLayerFactory {
  const where = 'fp8';
  const common = resolveCommon(options, where);
  const format = oneOf(options.format ?? 'e4m3', FP8_FORMATS, 'format', where);
  const scaling = oneOf(options.scaling ?? 'per-head', ['per-tensor', 'per-head'] as Fp8Scaling[], 'scaling', where);
  const sinks = integer(options.sinks ?? 0, 'sinks', where);
  const window = integer(options.window ?? 0, 'window', where);
  return (spec: LayerSpec) => {
    const absMax = (side: 'keys' | 'values') => {
      if (!options.calibration) return undefined;
      const samples = options.calibration.layer(spec.layerIndex, where);
      return calibratedAbsMax(
        side === 'keys' ? options.calibration.keys(spec.layerIndex, 'post-rope', where) : samples.values,
        spec.kvHeads,
        scaling
      );
    };
    const codec = (side: 'keys' | 'values') => new Fp8TokenCodec(spec.backend, spec.kvHeads, spec.headDim, format, scaling, absMax(side));
    return tokenCodecLayer(spec, {
      method: where,
      keyInput: 'post-rope',
      keys: codec('keys'),
      values: codec('values'),
      sinks,
      residual: window,
      ...common,
    });
  };
}
