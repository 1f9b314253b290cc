import { type CacheLayerFactory, InvalidConfigError, type Matrix } from '@kvkit/tensor-core';
import { LowRankCacheLayer, type LowRankLayerPlan } from '../cache/low-rank-layer.js';
import { type LatentStorage, resolveLatentStorage } from '../cache/latent-store.js';
import { rankForEnergy } from '../fit/energy.js';
import { rotateBasis } from '../fit/hadamard.js';
import { leadingColumns } from '../fit/principal-directions.js';
import { type ProjectionSet, assertProjectionsFit, validateProjectionSet } from '../fit/projection-set.js';
import { type RankAllocation, fixedRankAllocation, uniformAllocation, validateAllocation } from '../rank/allocation.js';

/** How many directions each group keeps: give exactly one of these (default ratio 0.5). */
export interface RankChoice {
  /** The same rank for every group of keys and values. */
  rank?: number;
  /** The same share of each group's feature dimension (0, 1]: rank = round(ratio·groupSize·headDim). */
  ratio?: number;
  /** Per layer and group ranks (from `allocateRanksByEnergy`, `searchRanksByKL`, or by hand). */
  ranks?: RankAllocation;
  /** Per group, the smallest rank capturing this share of the energy (Eigen Attention's threshold). */
  energy?: number;
}

export interface FeatureProjectionOptions extends RankChoice {
  projections: ProjectionSet;
  /** Latent storage (dense f16 by default; `bits` quantizes). */
  storage?: LatentStorage;
  /** Rotate latents by a block Hadamard matrix before quantizing (folded into the bases; default: on when quantizing). */
  hadamard?: boolean;
  /** Most recent tokens kept uncompressed (default 0). */
  window?: number;
  /** 'absorb' (default): attention in the latent space where exact; 'reconstruct': rebuild K/V every step. */
  attend?: 'absorb' | 'reconstruct';
  /** Tokens allocated up front per layer (default 256; doubles when exceeded). */
  initialCapacity?: number;
}

/** Resolves a rank choice into an allocation over the projections. */
export function resolveRanks(set: ProjectionSet, choice: RankChoice, where: string): RankAllocation {
  const given = (['rank', 'ratio', 'ranks', 'energy'] as const).filter((k) => choice[k] !== undefined);
  if (given.length > 1) throw new InvalidConfigError(`${where}: give one of rank, ratio, ranks or energy, not ${given.join(' and ')}`);
  let allocation: RankAllocation;
  if (choice.ranks !== undefined) allocation = choice.ranks;
  else if (choice.rank !== undefined) allocation = fixedRankAllocation(set, choice.rank);
  else if (choice.energy !== undefined) {
    const target = choice.energy;
    allocation = {
      key: set.key.layers.map((groups) => groups.map((g) => rankForEnergy(g, target))),
      value: set.value.layers.map((groups) => groups.map((g) => rankForEnergy(g, target))),
    };
  } else allocation = uniformAllocation(set, choice.ratio ?? 0.5);
  validateAllocation(set, allocation, where);
  return allocation;
}

/**
 * The shared factory of the feature-dimension methods (Eigen Attention, Palu, MatryoshkaKV, CSKV):
 * every layer keeps the leading ranks[layer][group] directions of its fitted bases. The truncated
 * (and possibly Hadamard-rotated) bases of a layer are computed once per factory, not per cache.
 */
export function featureProjectionCache(method: string, options: FeatureProjectionOptions): CacheLayerFactory {
  const where = method;
  const { projections } = options;
  validateProjectionSet(projections, where);
  const allocation = resolveRanks(projections, options, where);
  const storage = resolveLatentStorage(options.storage, where);
  const hadamard = options.hadamard ?? Boolean(storage.bits);
  const window = options.window ?? 0;
  if (!Number.isInteger(window) || window < 0) throw new InvalidConfigError(`${where}: window must be an integer >= 0, got ${window}`);
  const attend = options.attend ?? 'absorb';
  if (attend !== 'absorb' && attend !== 'reconstruct') throw new InvalidConfigError(`${where}: attend must be 'absorb' or 'reconstruct', got ${String(attend)}`);
  const initialCapacity = options.initialCapacity ?? 256;
  if (!Number.isInteger(initialCapacity) || initialCapacity < 1) {
    throw new InvalidConfigError(`${where}: initialCapacity must be a positive integer, got ${initialCapacity}`);
  }
  const truncate = (basis: Matrix, rank: number) => (hadamard ? rotateBasis(leadingColumns(basis, rank)) : leadingColumns(basis, rank));
  const plans = new Map<number, LowRankLayerPlan>();
  const planFor = (layer: number): LowRankLayerPlan => {
    let plan = plans.get(layer);
    if (!plan) {
      plan = {
        method,
        keyInput: projections.keyInput,
        keyGroupSize: projections.key.groupSize,
        keyBases: projections.key.layers[layer].map((g, j) => truncate(g.basis, allocation.key[layer][j])),
        valueGroupSize: projections.value.groupSize,
        valueBases: projections.value.layers[layer].map((g, j) => truncate(g.basis, allocation.value[layer][j])),
        window,
        storage,
        attend,
        initialCapacity,
      };
      plans.set(layer, plan);
    }
    return plan;
  };
  return (spec) => {
    assertProjectionsFit(projections, spec, where);
    return new LowRankCacheLayer(spec, planFor(spec.layerIndex));
  };
}
