import { type CacheLayerFactory, InvalidConfigError, type Matrix } from '@kvkit/tensor-core';
import { leadingColumns } from '../fit/principal-directions.js';
import { type ProjectionSet, assertProjectionsFit, validateProjectionSet } from '../fit/projection-set.js';
import { ShadowKVCacheLayer } from './shadowkv-layer.js';

export interface ShadowKVOptions {
  /** Rank of the key basis over all KV heads' concatenated pre-RoPE keys (default: from `ratio`). */
  rank?: number;
  /** Rank as a share of kvHeads·headDim (default 0.25; the paper keeps 160 of 1024). */
  ratio?: number;
  /** Tokens per chunk (default 8). */
  chunk?: number;
  /** Tokens attended per decode step from the compressed part, in whole chunks (default 128). */
  budget?: number;
  /** Chunks per KV head kept with exact keys (default 2). */
  outliers?: number;
  /** Most recent tokens kept whole (default 32). */
  window?: number;
  /** Storage dtype (default 'f16'). */
  dtype?: 'f16' | 'f32';
  /**
   * A calibrated basis (pre-RoPE keys, one group of all KV heads: `fitCskv`-style) instead of the
   * per-sequence SVD.
   */
  projections?: ProjectionSet;
  initialCapacity?: number;
}

const positiveInteger = (x: number) => Number.isInteger(x) && x >= 1;
const naturalNumber = (x: number) => Number.isInteger(x) && x >= 0;

/** ShadowKV's key path as a cache layer factory (see `ShadowKVCacheLayer`). */
export function shadowKV(options: ShadowKVOptions = {}): CacheLayerFactory {
  const where = 'shadowkv';
  const chunk = options.chunk ?? 8;
  const budget = options.budget ?? 128;
  const outliers = options.outliers ?? 2;
  const window = options.window ?? 32;
  const dtype = options.dtype ?? 'f16';
  const initialCapacity = options.initialCapacity ?? 256;
  if (!positiveInteger(chunk)) throw new InvalidConfigError(`${where}: chunk must be a positive integer, got ${chunk}`);
  if (!naturalNumber(budget)) throw new InvalidConfigError(`${where}: budget must be an integer >= 0, got ${budget}`);
  if (!naturalNumber(outliers)) throw new InvalidConfigError(`${where}: outliers must be an integer >= 0, got ${outliers}`);
  if (!naturalNumber(window)) throw new InvalidConfigError(`${where}: window must be an integer >= 0, got ${window}`);
  if (dtype !== 'f16' && dtype !== 'f32') throw new InvalidConfigError(`${where}: dtype must be 'f16' or 'f32', got ${String(dtype)}`);
  if (!positiveInteger(initialCapacity)) throw new InvalidConfigError(`${where}: initialCapacity must be a positive integer, got ${initialCapacity}`);
  if (options.rank !== undefined && options.ratio !== undefined) throw new InvalidConfigError(`${where}: give rank or ratio, not both`);
  const ratio = options.ratio ?? 0.25;
  if (!(ratio > 0 && ratio <= 1)) throw new InvalidConfigError(`${where}: ratio must be in (0, 1], got ${ratio}`);
  const { projections } = options;
  if (projections) {
    validateProjectionSet(projections, where);
    if (projections.keyInput !== 'pre-rope' || projections.key.groupSize !== projections.kvHeads) {
      throw new InvalidConfigError(`${where}: a calibrated basis must be fitted on pre-RoPE keys of all KV heads together (keys-pre-rope, keyGroupSize = kvHeads)`);
    }
  }
  const bases = new Map<number, Matrix>();
  return (spec) => {
    const dim = spec.kvHeads * spec.headDim;
    const rank = options.rank ?? Math.max(1, Math.round(ratio * dim));
    if (!Number.isInteger(rank) || rank < 1 || rank > dim) throw new InvalidConfigError(`${where}: rank must be an integer in [1, ${dim}], got ${rank}`);
    let basis: Matrix | undefined;
    if (projections) {
      assertProjectionsFit(projections, spec, where);
      const fitted = projections.key.layers[spec.layerIndex][0].basis;
      if (rank > fitted.cols) throw new InvalidConfigError(`${where}: rank ${rank} exceeds the ${fitted.cols} directions of the calibrated basis`);
      basis = bases.get(spec.layerIndex) ?? leadingColumns(fitted, rank);
      bases.set(spec.layerIndex, basis);
    }
    return new ShadowKVCacheLayer(spec, { rank, chunk, budget, outliers, window, dtype, basis, initialCapacity });
  };
}
