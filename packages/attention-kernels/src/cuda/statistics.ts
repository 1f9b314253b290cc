import { type Tensor, tensor } from '@kvkit/tensor-core';
import { arg, type CudaBackend, defineCudaModule, gridFor, type KernelArg } from '@kvkit/tensor-core/cuda';
import { statisticsWeights } from '../gpu/statistics-weights.js';
import { zeroKeyStatistics } from '../gpu/with-statistics.js';
import type { KernelAttrs, KeyStatistics } from '../ops/attention-types.js';
import source from './key-statistics.cu';
import { SPLIT_K_HEADERS, Staging } from './split-k.js';

/** The per-key statistics kernels (dense, paged, ragged, KIVI), compiled when a caller asks for statistics. */
export const keyStatisticsModule = defineCudaModule({ name: 'kvkit-attention-statistics', source, headers: SPLIT_K_HEADERS });

/**
 * One statistics launch (key-statistics.cu, kv_*key_statistics_*): the kernel, the output
 * [rows, width] with its group size and shapes, and the arguments that build its key source,
 * given by `source` with a staging area that keeps row-major copies alive through the launch.
 */
export interface StatisticsLaunch {
  kernel: string;
  rows: number;
  width: number;
  group: number;
  headShape: number[];
  kvShape: number[];
  source(staging: Staging): KernelArg[];
}

/**
 * Per-key statistics given each query row's log-sum-exp `lse` (from the attention pass that
 * produced the output): one thread per output cell (query head, key) recomputes the
 * probabilities. q is [folded heads, m, d].
 */
export function keyStatisticsCuda(backend: CudaBackend, q: Tensor, lse: Tensor, launch: StatisticsLaunch, attrs: KernelAttrs): KeyStatistics {
  const [heads, m, d] = q.shape;
  const { rows, width, group } = launch;
  const stats = attrs.statistics;
  const result = zeroKeyStatistics(backend, launch.headShape, launch.kvShape, width, stats.rowProbabilities);
  const { keySum, keyMax, queryCount, rowProbabilities } = result;
  if (rows * width === 0 || heads * m === 0) return result;
  const { first, firstRow, weights } = statisticsWeights(stats, m);
  const staging = new Staging(backend);
  try {
    const [qs, rowLse] = [q, lse].map((t) => staging.rowMajor(t));
    const weightT = staging.keep(tensor(weights, [weights.length], { backend }));
    const ptr = (t: Tensor | undefined) => arg.ptr(t ? backend.address(t) : 0);
    backend.launch(keyStatisticsModule, launch.kernel, { grid: gridFor(rows * width, backend), block: 256 }, [
      ptr(keySum), ptr(keyMax), ptr(queryCount), ptr(rowProbabilities), ptr(qs), ptr(rowLse), ptr(weightT),
      arg.i32(rows), arg.i32(width), arg.i32(group), arg.i32(m), arg.i32(d),
      arg.f32(attrs.scale), arg.bool(attrs.causal), arg.i32(attrs.window), arg.f32(attrs.softcap),
      arg.i32(first), arg.i32(firstRow), arg.i32(stats.rowProbabilities),
      ...launch.source(staging),
    ]);
  } finally {
    staging.dispose();
  }
  return result;
}
