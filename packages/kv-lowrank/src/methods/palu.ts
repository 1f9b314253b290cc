import { type CacheLayerFactory, InvalidConfigError, type Matrix, matrix, svd } from '@kvkit/tensor-core';
import type { KVCalibrationSet } from '../calibration/calibration-set.js';
import { fitProjections } from '../fit/fit-projections.js';
import type { DirectionOptions } from '../fit/principal-directions.js';
import type { ProjectionSet } from '../fit/projection-set.js';
import { type RankChoice, featureProjectionCache } from './feature-projection.js';

export interface PaluOptions extends RankChoice {
  /** Bases from `fitPalu` (SVD of W_k / W_v per head group), or any pre-RoPE projection set. */
  projections: ProjectionSet;
  /** Storage dtype of dense latents (default 'f16'). */
  dtype?: 'f16' | 'f32';
  /** Quantize latents to this many bits (default: dense). */
  bits?: number;
  /** Latent numbers per quantization group (default 32). */
  quantGroup?: number;
  /** Hadamard-rotate latents before quantizing (default: on when quantizing). */
  hadamard?: boolean;
  initialCapacity?: number;
}

/**
 * Palu (Chang et al., 2024): the key and value projections of each group of heads are factored by SVD,
 * W ≈ U_r·(Σ_r V_rᵀ); the cache holds the rank-r latents and rebuilds K/V on the fly (keys before
 * RoPE, rotated after reconstruction; values absorbed into the output). Latents can be quantized after
 * a Hadamard rotation (low-rank-aware quantization); ranks come from `ratio`, `rank`, or a rank search.
 */
export function palu(options: PaluOptions): CacheLayerFactory {
  if (!options?.projections) throw new InvalidConfigError('palu: projections are missing (fitPalu)');
  const { dtype, bits, quantGroup, ...rest } = options;
  return featureProjectionCache('palu', { ...rest, storage: { dtype, bits, quantGroup }, window: 0 });
}

/** The largest divisor of kvHeads not above 4: Palu's group-head decomposition default. */
export function defaultPaluGroup(kvHeads: number): number {
  for (let g = Math.min(4, kvHeads); g > 1; g--) if (kvHeads % g === 0) return g;
  return 1;
}

/**
 * Palu's bases: per layer and group of `groupSize` heads (default `defaultPaluGroup`), the left
 * singular vectors of the rows of W_k and W_v producing those heads (needs `calibration.setWeights`).
 */
export function fitPalu(set: KVCalibrationSet, options: DirectionOptions & { groupSize?: number } = {}): ProjectionSet {
  const { groupSize = defaultPaluGroup(set.kvHeads), ...direction } = options;
  return fitProjections(set, { ...direction, keys: 'weights', values: 'weights', keyGroupSize: groupSize });
}

/**
 * Palu's low-rank factors of one weight block W [out, in]: `up` = U_r [out, r] rebuilds K or V from
 * the latent, `down` = Σ_r V_rᵀ [r, in] computes the latent from the layer input; up·down is the best
 * rank-r approximation of W (exactly W at full rank).
 */
export function paluFactors(weights: Matrix, rank: number): { up: Matrix; down: Matrix } {
  const available = Math.min(weights.rows, weights.cols);
  if (!Number.isInteger(rank) || rank < 1 || rank > available) throw new InvalidConfigError(`paluFactors: rank must be an integer in [1, ${available}], got ${rank}`);
  const { u, s, vt } = svd(weights);
  const up = matrix(weights.rows, rank);
  for (let i = 0; i < weights.rows; i++) for (let j = 0; j < rank; j++) up.data[i * rank + j] = u.data[i * u.cols + j];
  const down = matrix(rank, weights.cols);
  for (let j = 0; j < rank; j++) for (let c = 0; c < weights.cols; c++) down.data[j * weights.cols + c] = s[j] * vt.data[j * vt.cols + c];
  return { up, down };
}
