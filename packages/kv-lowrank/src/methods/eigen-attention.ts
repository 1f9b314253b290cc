import { type CacheLayerFactory, InvalidConfigError } from '@kvkit/tensor-core';
import type { LatentStorage } from '../cache/latent-store.js';
import type { KVCalibrationSet } from '../calibration/calibration-set.js';
import { fitProjections } from '../fit/fit-projections.js';
import type { DirectionOptions } from '../fit/principal-directions.js';
import type { ProjectionSet } from '../fit/projection-set.js';
import { type RankChoice, featureProjectionCache } from './feature-projection.js';

export interface EigenAttentionOptions extends RankChoice {
  /** Post-RoPE bases, from `fitEigenAttention`. */
  projections: ProjectionSet;
  storage?: LatentStorage;
  /** Hadamard-rotate latents before quantizing (default: on when `storage.bits` is set). */
  hadamard?: boolean;
  attend?: 'absorb' | 'reconstruct';
  initialCapacity?: number;
}

/**
 * Eigen Attention (Saxena et al., 2024): keys and values are stored as their coordinates in per-head
 * PCA bases, and attention runs in that low-rank space — queries are projected by the key basis, the
 * value output is lifted once per query. Give `rank`, `ratio`, per-group `ranks`, or `energy` (the
 * paper's per-layer threshold: the smallest rank keeping that share of the energy).
 */
export function eigenAttention(options: EigenAttentionOptions): CacheLayerFactory {
  if (options?.projections?.keyInput !== 'post-rope') {
    throw new InvalidConfigError('eigen: attention in the low-rank space needs post-RoPE key bases (fitEigenAttention)');
  }
  return featureProjectionCache('eigen', { ...options, window: 0 });
}

/**
 * Eigen Attention's bases: per KV head, PCA of post-RoPE keys together with the queries that read
 * them (when the set holds queries; keys alone otherwise), and PCA of the values.
 */
export function fitEigenAttention(set: KVCalibrationSet, options: DirectionOptions = {}): ProjectionSet {
  return fitProjections(set, { ...options, keys: set.has('query') ? 'keys-queries' : 'keys-post-rope', values: 'values', keyGroupSize: 1 });
}
