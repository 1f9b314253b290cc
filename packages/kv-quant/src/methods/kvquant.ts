import { type CacheLayerFactory, type LayerSpec } from '@kvkit/tensor-core';
import type { KVCalibration } from '../calibration/calibration.js';
import { fitChannelRanges, fitDatatype, normalizedTokenSamples } from '../calibration/fit.js';
import { ChannelAffine } from '../codecs/channel-affine.js';
import { DenseSparseCodec } from '../codecs/dense-sparse-codec.js';
import { LutTokenCodec } from '../codecs/lut-codec.js';
import { assertGroupDivides } from '../codecs/uniform-codec.js';
import { CalibrationRequiredError } from '../errors.js';
import { LUT_BITS } from '../kernels/lut.js';
import { tokenCodecLayer } from './token-layer.js';
import { type CommonQuantOptions, fraction, integer, oneOf, outlierCount, resolveCommon } from './options.js';

export interface KvQuantOptions extends CommonQuantOptions {
  /** K/V activations of the model (required): datatypes and per-channel key ranges are fitted on them. */
  calibration: KVCalibration;
  /** Bits per value: 1, 2, 3, 4 or 8 (default 3). */
  bits?: number;
  /** Share of each vector's entries kept exactly in the sparse store (default 0.01; at least one per vector when > 0). */
  outliers?: number;
  /** First tokens kept in full precision: the attention sink (default 1). */
  sinks?: number;
  /** Newest tokens kept in full precision (default 0). */
  residual?: number;
  /** Channels per value normalization group (default headDim: one range per token). */
  valueGroupSize?: number;
  /** Weight the key datatype fit by the query energy of each channel (default true when the calibration has queries). */
  sensitivity?: boolean;
}

interface KvQuantFit {
  keyLevels: Float32Array;
  valueLevels: Float32Array;
  center: Float32Array;
  halfRange: Float32Array;
}

/**
 * KVQuant (Hooper et al. 2024): keys quantized per channel before RoPE (RoPE is applied after
 * dequantization, from the stored positions), with per-channel ranges fitted offline; values per
 * token; non-uniform datatypes fitted on calibration activations by sensitivity-weighted k-means;
 * a dense-and-sparse split that keeps each vector's largest outliers exactly; the attention sink
 * kept in full precision.
 */
export function kvquant(options: KvQuantOptions): CacheLayerFactory {
  const where = 'kvquant';
  if (!options?.calibration)
    throw new CalibrationRequiredError(
      where,
      'non-uniform datatypes and per-channel key ranges are fitted on calibration activations, and none were given'
    );
  const common = resolveCommon(options, where);
  const bits = oneOf(options.bits ?? 3, LUT_BITS, 'bits', where);
  const share = fraction(options.outliers ?? 0.01, 'outliers', where, 0, 0.5);
  const sinks = integer(options.sinks ?? 1, 'sinks', where);
  const residual = integer(options.residual ?? 0, 'residual', where);
  const calibration = options.calibration;
  const fits = new Map<number, KvQuantFit>();

  const fit = (spec: LayerSpec, valueGroupSize: number, outliers: number): KvQuantFit => {
    const cached = fits.get(spec.layerIndex);
    if (cached) return cached;
    calibration.assertFits(spec, where);
    const samples = calibration.layer(spec.layerIndex, where);
    const { kvHeads: H, headDim: d } = spec;
    const n = samples.tokens;
    // The full calibrated range, untrimmed: only a fixed number of outliers per vector reaches the
    // sparse store, so a range trimmed by the outlier share clips every further out-of-range entry
    // of a vector (and a larger share clipped more). The non-uniform datatype spends its levels
    // where the mass is, so the wide range costs little.
    const { center, halfRange } = fitChannelRanges(samples.keys, H, n, d, 0);
    const energy = options.sensitivity === false ? undefined : calibration.queryEnergy(spec.layerIndex);
    const keySamples: number[] = [];
    const keyWeights: number[] = [];
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < n; t++) {
        for (let c = 0; c < d; c++) {
          const half = halfRange[h * d + c] || 1;
          const v = (samples.keys[(h * n + t) * d + c] - center[h * d + c]) / half;
          keySamples.push(v);
          keyWeights.push(energy ? energy[h * d + c] : 1);
        }
      }
    }
    const result = {
      keyLevels: fitDatatype(keySamples, keyWeights, bits),
      valueLevels: fitDatatype(normalizedTokenSamples(samples.values, H, n, d, valueGroupSize, outliers), undefined, bits),
      center,
      halfRange,
    };
    fits.set(spec.layerIndex, result);
    return result;
  };

  return (spec) => {
    const valueGroupSize = options.valueGroupSize ?? spec.headDim;
    assertGroupDivides(valueGroupSize, spec.headDim, `${where} values`);
    const outliers = outlierCount(share, spec.headDim);
    const f = fit(spec, valueGroupSize, outliers);
    const { backend, kvHeads, headDim } = spec;
    const keyCodec = new DenseSparseCodec(
      new LutTokenCodec(backend, headDim, f.keyLevels, { paramDType: common.dtype }, `${where} keys`),
      headDim,
      { outliers, center: 'zero', valueDType: common.dtype, normalizer: new ChannelAffine(backend, kvHeads, headDim, f.center, f.halfRange) },
      `${where} keys`
    );
    const valueCodec = new DenseSparseCodec(
      new LutTokenCodec(backend, headDim, f.valueLevels, { groupSize: valueGroupSize, paramDType: common.dtype }, `${where} values`),
      headDim,
      { outliers, center: 'mean', valueDType: common.dtype },
      `${where} values`
    );
    return tokenCodecLayer(spec, { method: where, keyInput: 'pre-rope', keys: keyCodec, values: valueCodec, sinks, residual, ...common });
  };
}
