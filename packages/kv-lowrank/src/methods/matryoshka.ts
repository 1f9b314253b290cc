import { type CacheLayerFactory, InvalidConfigError } from '@kvkit/tensor-core';
import type { LatentStorage } from '../cache/latent-store.js';
import type { KVCalibrationSet } from '../calibration/calibration-set.js';
import { fitProjections } from '../fit/fit-projections.js';
import type { DirectionOptions } from '../fit/principal-directions.js';
import type { ProjectionSet } from '../fit/projection-set.js';
import type { RankAllocation } from '../rank/allocation.js';
import { allocateRanksByEnergy } from '../rank/energy-search.js';
import { featureProjectionCache } from './feature-projection.js';

export interface MatryoshkaOptions {
  /** Per-head post-RoPE PCA bases (`fitMatryoshka`): nested, so every rank is a prefix. */
  projections: ProjectionSet;
  /** Share of the full cache kept, spent across layers and heads by energy (default 0.5). */
  ratio?: number;
  /** Per layer and head ranks instead (e.g. from `searchRanksByKL`). */
  ranks?: RankAllocation;
  storage?: LatentStorage;
  initialCapacity?: number;
}

/**
 * MatryoshkaKV's PCA variant (Lin et al., 2024): nested orthogonal projections of each head's keys
 * and values (the PCA bases the paper starts from; its distillation-trained variant is out of scope),
 * with per-layer, per-head rates chosen under a global budget — by energy here, or by measured KL with
 * `searchRanksByKL({ granularity: 'group' })`.
 */
export function matryoshka(options: MatryoshkaOptions): CacheLayerFactory {
  const { projections, ratio, ranks, storage, initialCapacity } = options ?? ({} as MatryoshkaOptions);
  if (!projections) throw new InvalidConfigError('matryoshka: projections are missing (fitMatryoshka)');
  if (ranks !== undefined && ratio !== undefined) throw new InvalidConfigError('matryoshka: give ratio or ranks, not both');
  const allocation = ranks ?? allocateRanksByEnergy(projections, { ratio: ratio ?? 0.5, granularity: 'group' });
  return featureProjectionCache('matryoshka', { projections, ranks: allocation, storage, initialCapacity, window: 0 });
}

/** Per-head PCA of post-RoPE keys and of values. */
export function fitMatryoshka(set: KVCalibrationSet, options: DirectionOptions = {}): ProjectionSet {
  return fitProjections(set, { ...options, keys: 'keys-post-rope', values: 'values', keyGroupSize: 1 });
}
