import { type CacheLayerFactory, InvalidConfigError, type LayerSpec, SUPPORTED_BITS, UnsupportedBitWidthError } from '@kvkit/tensor-core';
import type { KVCalibration } from '../calibration/calibration.js';
import { fitCodebooks } from '../calibration/fit.js';
import { VectorTokenCodec } from '../codecs/vector-codec.js';
import { CalibrationRequiredError } from '../errors.js';
import { tokenCodecLayer } from './token-layer.js';
import { type CommonQuantOptions, integer, oneOf, resolveCommon } from './options.js';

export interface CoupledQuantOptions extends CommonQuantOptions {
  /** K/V activations the codebooks are learned on (required). */
  calibration: KVCalibration;
  /** Channels quantized jointly (default 4). */
  channels?: number;
  /** Bits per channel (default 1): each group's code has channels · bits bits, which must be 1, 2, 3, 4 or 8. */
  bits?: number;
  /** Keys coded after RoPE (default) or before it (RoPE re-applied after decoding). */
  keyInput?: 'post-rope' | 'pre-rope';
  /** Weight key channels by the query energy in k-means (default true when the calibration has queries). */
  sensitivity?: boolean;
  /** k-means iterations (default 25) and seed (default fixed). */
  iterations?: number;
  seed?: number;
  /** First tokens kept in full precision (default 0). */
  sinks?: number;
  /** Newest tokens kept in full precision (default 0). */
  residual?: number;
}

/**
 * Coupled Quantization (Zhang et al. 2024): groups of `channels` channels are quantized jointly
 * with codebooks learned by k-means on calibration activations — the channels of a key or value are
 * dependent, so a joint code beats independent ones at the same bits, down to 1 bit per channel.
 */
export function coupledQuant(options: CoupledQuantOptions): CacheLayerFactory {
  const where = 'coupledQuant';
  if (!options?.calibration)
    throw new CalibrationRequiredError(where, 'codebooks are learned by k-means on calibration activations, and none were given');
  const common = resolveCommon(options, where);
  const channels = integer(options.channels ?? 4, 'channels', where, 1);
  const bitsPerChannel = integer(options.bits ?? 1, 'bits', where, 1);
  const codeBits = channels * bitsPerChannel;
  if (!SUPPORTED_BITS.includes(codeBits)) {
    throw new UnsupportedBitWidthError(
      codeBits,
      SUPPORTED_BITS,
      `${where}: ${channels} channels × ${bitsPerChannel} bits gives ${codeBits}-bit codes`
    );
  }
  const keyInput = oneOf(options.keyInput ?? 'post-rope', ['post-rope', 'pre-rope'] as const, 'keyInput', where);
  const sinks = integer(options.sinks ?? 0, 'sinks', where);
  const residual = integer(options.residual ?? 0, 'residual', where);
  const calibration = options.calibration;
  const fits = new Map<number, { keys: Float32Array; values: Float32Array }>();

  const fit = (spec: LayerSpec) => {
    const cached = fits.get(spec.layerIndex);
    if (cached) return cached;
    calibration.assertFits(spec, where);
    const samples = calibration.layer(spec.layerIndex, where);
    const n = samples.tokens;
    const codebookOptions = { seed: options.seed, iterations: options.iterations };
    const energy = options.sensitivity === false ? undefined : calibration.queryEnergy(spec.layerIndex);
    const keys = calibration.keys(spec.layerIndex, keyInput, where);
    const result = {
      keys: fitCodebooks(keys, spec.kvHeads, n, spec.headDim, channels, codeBits, { ...codebookOptions, channelWeights: energy }),
      values: fitCodebooks(samples.values, spec.kvHeads, n, spec.headDim, channels, codeBits, codebookOptions),
    };
    fits.set(spec.layerIndex, result);
    return result;
  };

  return (spec) => {
    if (spec.headDim % channels !== 0)
      throw new InvalidConfigError(`${where}: ${channels} coupled channels must divide the head dimension ${spec.headDim}`);
    const books = fit(spec);
    const codec = (codebook: Float32Array, side: string) =>
      new VectorTokenCodec(spec.backend, spec.kvHeads, spec.headDim, channels, codeBits, codebook, `${where} ${side}`);
    return tokenCodecLayer(spec, {
      method: where,
      keyInput,
      keys: codec(books.keys, 'keys'),
      values: codec(books.values, 'values'),
      sinks,
      residual,
      ...common,
    });
  };
}
