import { InvalidConfigError } from '@kvkit/tensor-core';
import { type ProjectionSet, groupCount } from '../fit/projection-set.js';

/**
 * The rank kept per layer and head group, for keys and values: `key[layer][group]`. A latent of
 * rank r costs r numbers per token, so Σ ranks is the cache's size in numbers per token.
 */
export interface RankAllocation {
  key: number[][];
  value: number[][];
}

/** Feature dimension of one group of a part (groupSize·headDim): the rank that loses nothing. */
export function groupDimension(set: ProjectionSet, part: 'key' | 'value'): number {
  return set[part].groupSize * set.headDim;
}

/** The same share of the feature dimension everywhere: rank = round(ratio·dim), at least 1. */
export function uniformAllocation(set: ProjectionSet, ratio: number): RankAllocation {
  if (!(ratio > 0 && ratio <= 1)) throw new InvalidConfigError(`uniformAllocation: ratio must be in (0, 1], got ${ratio}`);
  const build = (part: 'key' | 'value') => {
    const rank = Math.max(1, Math.round(ratio * groupDimension(set, part)));
    return set[part].layers.map((groups) => groups.map((g) => Math.min(rank, g.basis.cols)));
  };
  return { key: build('key'), value: build('value') };
}

/** The same rank everywhere (clamped to each basis' available directions). */
export function fixedRankAllocation(set: ProjectionSet, keyRank: number, valueRank = keyRank): RankAllocation {
  for (const [name, r, part] of [['key rank', keyRank, 'key'], ['value rank', valueRank, 'value']] as const) {
    const dim = groupDimension(set, part);
    if (!Number.isInteger(r) || r < 1 || r > dim) throw new InvalidConfigError(`${name} must be an integer in [1, ${dim}], got ${r}`);
  }
  return {
    key: set.key.layers.map((groups) => groups.map((g) => Math.min(keyRank, g.basis.cols))),
    value: set.value.layers.map((groups) => groups.map((g) => Math.min(valueRank, g.basis.cols))),
  };
}

/** Σ ranks: numbers stored per token by the whole cache. */
export function allocationCost(allocation: RankAllocation): number {
  let total = 0;
  for (const part of [allocation.key, allocation.value]) for (const layer of part) for (const r of layer) total += r;
  return total;
}

/** Σ group dimensions: numbers per token of the uncompressed cache. */
export function fullCost(set: ProjectionSet): number {
  return set.numLayers * (groupCount(set, 'key') * groupDimension(set, 'key') + groupCount(set, 'value') * groupDimension(set, 'value'));
}

/** Throws InvalidConfigError unless every rank is an integer in [1, available directions]. */
export function validateAllocation(set: ProjectionSet, allocation: RankAllocation, where: string): void {
  for (const part of ['key', 'value'] as const) {
    const ranks = allocation?.[part];
    if (!Array.isArray(ranks) || ranks.length !== set.numLayers) throw new InvalidConfigError(`${where}: ${part} ranks must list ${set.numLayers} layers`);
    ranks.forEach((groups, l) => {
      const bases = set[part].layers[l];
      if (!Array.isArray(groups) || groups.length !== bases.length) {
        throw new InvalidConfigError(`${where}: ${part} ranks of layer ${l} must list ${bases.length} groups`);
      }
      groups.forEach((r, j) => {
        const max = bases[j].basis.cols;
        if (!Number.isInteger(r) || r < 1 || r > max) {
          throw new InvalidConfigError(`${where}: ${part} rank of layer ${l} group ${j} must be an integer in [1, ${max}], got ${r}`);
        }
      });
    });
  }
}
