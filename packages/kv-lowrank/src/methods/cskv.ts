import { type CacheLayerFactory, InvalidConfigError } from '@kvkit/tensor-core';
import type { LatentStorage } from '../cache/latent-store.js';
import type { KVCalibrationSet } from '../calibration/calibration-set.js';
import { fitProjections } from '../fit/fit-projections.js';
import type { DirectionOptions } from '../fit/principal-directions.js';
import type { ProjectionSet } from '../fit/projection-set.js';
import { type RankChoice, featureProjectionCache } from './feature-projection.js';

export interface CskvOptions extends RankChoice {
  /** Bases from `fitCskv` (joint PCA of pre-RoPE keys and of values over all heads of a layer). */
  projections: ProjectionSet;
  /** Most recent tokens kept in full precision (default 32). */
  window?: number;
  /** Storage of the compressed branch (dense f16 by default; `bits` makes it low-precision). */
  storage?: LatentStorage;
  hadamard?: boolean;
  initialCapacity?: number;
}

/**
 * CSKV (Wang et al., 2024): channel shrinking of the key and value projections — the compressed branch
 * stores low-dimensional features (the closed-form minimizer of the layer-wise reconstruction loss the
 * paper trains: a PCA of the layer's K/V), a full-precision branch keeps the `window` most recent
 * tokens, and tokens move from the window to the compressed branch as new ones arrive.
 */
export function cskv(options: CskvOptions): CacheLayerFactory {
  if (!options?.projections) throw new InvalidConfigError('cskv: projections are missing (fitCskv)');
  return featureProjectionCache('cskv', { ...options, window: options.window ?? 32 });
}

/** Joint PCA over all KV heads of a layer: pre-RoPE keys (CSKV shrinks k_proj's output) and values. */
export function fitCskv(set: KVCalibrationSet, options: DirectionOptions = {}): ProjectionSet {
  return fitProjections(set, { ...options, keys: 'keys-pre-rope', values: 'values', keyGroupSize: set.kvHeads });
}
