import { runKernel, ShapeMismatchError, slice, type Tensor } from '@kvkit/tensor-core';
import { type KiviCacheView, validateKiviView } from '../formats/kivi.js';
import { ensureAttentionKernels } from '../kernels.js';
import type { KernelOptions, KernelResult } from './attention-types.js';
import { assertFloatTensor, assertGroups, assertShape, checkStatisticsFor, positiveInteger, resolveKernelAttrs, withTemporaries } from './validate.js';

export interface KiviDecodeOptions extends KernelOptions {
  /** i32 [m]: positions of the queries; default: the positions of the last m held tokens. */
  queryPositions?: Tensor | Int32Array;
  /** Tokens per split-K partition, rounded up to whole key groups (default as `decodeAttention`'s: 512, CUDA sizes its own). */
  partitionSize?: number;
}

/**
 * Decode attention read straight from a KIVI cache (`KiviCacheView`, written by @kvkit/kv-quant):
 * keys dequantized per channel group, values per token group, inside the loop, one tile at a time,
 * the full-precision residual read as is. Same semantics and options as `decodeAttention` over
 * `dequantizeKivi(view)`, without ever materializing the dequantized cache.
 */
export function kiviDecodeAttention(q: Tensor, view: KiviCacheView, options: KiviDecodeOptions = {}): KernelResult {
  const where = 'kiviDecodeAttention';
  validateKiviView(view, where);
  assertFloatTensor(q, where, 'q');
  assertShape(q, 3, where, 'q', '[qHeads, m, headDim]');
  const [qHeads, m, d] = q.shape;
  if (d !== view.headDim) throw new ShapeMismatchError(`${where}: q has head dim ${d} but the cache has ${view.headDim}`);
  assertGroups(qHeads, view.kvHeads, where);
  if (options.queryPositions === undefined && m > view.length) {
    throw new ShapeMismatchError(`${where}: ${m} queries but the cache holds ${view.length} tokens; pass queryPositions`);
  }
  const partitionTokens = positiveInteger(options.partitionSize, 512, where, 'partitionSize');
  const attrs = {
    ...resolveKernelAttrs(options, d, where),
    partitionSize: Math.ceil(partitionTokens / view.groupSize) * view.groupSize,
    partitionAuto: options.partitionSize === undefined,
    bits: view.bits,
    groupSize: view.groupSize,
    valueGroupSize: view.valueGroupSize,
    length: view.length,
    keyGroups: view.keyGroups,
    valueTokens: view.valueTokens,
  };
  checkStatisticsFor(attrs.statistics, m, where);
  ensureAttentionKernels(q.backend);
  return withTemporaries(q.backend, (temps) => {
    const qPos =
      options.queryPositions === undefined
        ? temps.keep(slice(view.positions, [view.length - m], [view.length]))
        : temps.positions(options.queryPositions, [m], 0, where, 'queryPositions');
    const { keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, residualKeys, residualValues, positions } = view;
    return runKernel('kiviDecodeAttention', [q, keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, residualKeys, residualValues, positions, qPos], attrs);
  });
}
