import { InvalidConfigError, reduce, reshape, runKernel, ShapeMismatchError, type Tensor } from '@kvkit/tensor-core';
import { ensureAttentionKernels } from '../kernels.js';
import { assertFloatTensor, assertGroups } from './validate.js';

export interface PoolOptions {
  /** Odd neighbourhood width (SnapKV uses 5 or 7). */
  kernelSize: number;
  /**
   * 'max': the largest score among the neighbours inside [0, n); 'avg': their sum divided by
   * kernelSize (zero padding at the ends, like SnapKV's `avg_pool1d(padding = kernelSize // 2)`).
   */
  mode: 'max' | 'avg';
}

/**
 * Pools per-key scores [rows, n] over a neighbourhood of keys along the last axis (stride 1, same
 * length), so a kept key brings its neighbours' evidence along (SnapKV's clustering step).
 */
export function poolKeyScores(scores: Tensor, options: PoolOptions): Tensor {
  const where = 'poolKeyScores';
  assertFloatTensor(scores, where, 'scores');
  if (scores.rank < 1) throw new ShapeMismatchError(`${where}: scores must have a key axis`);
  const { kernelSize, mode } = options;
  if (!Number.isInteger(kernelSize) || kernelSize < 1 || kernelSize % 2 === 0) {
    throw new InvalidConfigError(`${where}: kernelSize must be an odd positive integer, got ${kernelSize}`);
  }
  if (mode !== 'max' && mode !== 'avg') throw new InvalidConfigError(`${where}: mode must be 'max' or 'avg', got ${mode}`);
  ensureAttentionKernels(scores.backend);
  return runKernel('poolKeyScores', [scores], { kernelSize, mode });
}

/**
 * Aggregates per-query-head statistics [qHeads, n] over each KV head's group of query heads
 * → [kvHeads, n] ('mean', 'max' or 'sum'), the GQA aggregation eviction scorers apply.
 */
export function reduceQueryGroups(stat: Tensor, kvHeads: number, mode: 'mean' | 'max' | 'sum'): Tensor {
  const where = 'reduceQueryGroups';
  if (stat.rank !== 2) throw new ShapeMismatchError(`${where}: statistics must be [qHeads, n], got [${stat.shape.join(', ')}]`);
  if (mode !== 'mean' && mode !== 'max' && mode !== 'sum') throw new InvalidConfigError(`${where}: mode must be mean, max or sum, got ${mode}`);
  const [qHeads, n] = stat.shape;
  assertGroups(qHeads, kvHeads, where);
  const grouped = reshape(stat, [kvHeads, qHeads / kvHeads, n]);
  try {
    return reduce(mode, grouped, { axes: 1 });
  } finally {
    grouped.dispose();
  }
}
