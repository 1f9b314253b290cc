import { type Backend, keyVisible, type Tensor, tensor } from '@kvkit/tensor-core';
import type { KernelResult, StatisticsAttrs } from '../ops/attention-types.js';
import { outputTensor } from './host-data.js';
import type { SoftmaxState } from './online-softmax.js';
import type { QueryBlock } from './tile-source.js';
import type { KeyStatisticArrays } from './tile-loop.js';

/** Where the query rows of one request come from (see `fillBlock`). */
export interface RequestQueries {
  /** Scaled queries; the request's [qHeads, m, d] start at element `qBase`. */
  qs: Float64Array;
  qBase: number;
  m: number;
  /** Query positions; the request's start at `qPos[posBase]`. */
  qPos: Int32Array;
  posBase: number;
  /** Head number recorded for query head h is `headBase + h` (batched kernels: b · qHeads). */
  headBase: number;
  stats: StatisticsAttrs;
}

/**
 * Fills rows of `block` with the query rows of KV head `kvh` (its `group` query heads) for
 * queries [i0, i1) of one request, from row `rowBase` on: row rowBase + g·(i1 − i0) + (i − i0).
 * `block.rows` becomes the end of these rows, so several requests can be stacked in one block.
 */
export function fillBlock(block: QueryBlock, req: RequestQueries, kvh: number, group: number, i0: number, i1: number, rowBase = 0): void {
  const d = block.d;
  const { qs, qBase, m, qPos, posBase, headBase, stats } = req;
  const span = i1 - i0;
  block.rows = rowBase + group * span;
  const firstStat = stats.window > 0 ? Math.max(0, m - stats.window) : 0;
  const firstProb = m - stats.rowProbabilities;
  for (let g = 0; g < group; g++) {
    const h = kvh * group + g;
    for (let i = i0; i < i1; i++) {
      const r = rowBase + g * span + (i - i0);
      block.q.set(qs.subarray(qBase + (h * m + i) * d, qBase + (h * m + i + 1) * d), r * d);
      block.pos[r] = qPos[posBase + i];
      block.head[r] = headBase + h;
      block.query[r] = i;
      const contributes = stats.enabled && i >= firstStat;
      block.contributes[r] = contributes ? 1 : 0;
      block.statWeight[r] = !contributes ? 0 : stats.weights ? stats.weights[i - firstStat] : stats.decay ** (m - 1 - i);
      block.probRow[r] = contributes && i >= firstProb ? i - firstProb : -1;
    }
  }
}

/** Writes the normalized output (and log-sum-exp) of every row of `block` for a request of m queries. */
export function writeBlock(state: SoftmaxState, block: QueryBlock, m: number, out: Float64Array, outBase: number, lse: Float64Array | undefined, lseBase: number): void {
  const dv = state.dv;
  for (let r = 0; r < block.rows; r++) {
    const row = block.head[r] * m + block.query[r];
    state.writeOutput(r, out, outBase + row * dv);
    if (lse) lse[lseBase + row] = state.logSumExp(r);
  }
}

/**
 * Per-key statistic arrays: keySum/keyMax [heads, n] (heads = query heads, times the batch for
 * batched kernels) and the visible-query counts [kvRows, n] (one row per KV head and request: with
 * ragged per-head caches, key j of one head is not key j of another).
 */
export class StatisticsCollector implements KeyStatisticArrays {
  readonly keySum: Float64Array;
  readonly keyMax: Float64Array;
  readonly queryCount: Float64Array;
  readonly rowProbs: Float64Array | undefined;

  constructor(
    readonly heads: number,
    readonly kvRows: number,
    readonly n: number,
    readonly probRows = 0,
  ) {
    this.keySum = new Float64Array(heads * n);
    this.keyMax = new Float64Array(heads * n);
    this.queryCount = new Float64Array(kvRows * n);
    this.rowProbs = probRows > 0 ? new Float64Array(heads * probRows * n) : undefined;
  }

  /**
   * For keys [keyBase, keyBase + count) of KV row `kvRow` (positions from `kPos[kPosBase]`), counts
   * the contributing queries (positions from `qPos[qPosBase]`, m of them) that can see each key.
   */
  countQueries(
    kvRow: number,
    qPos: Int32Array,
    qPosBase: number,
    m: number,
    kPos: Int32Array,
    kPosBase: number,
    keyBase: number,
    count: number,
    stats: StatisticsAttrs,
    mask: { causal: boolean; window: number },
  ): void {
    const first = stats.window > 0 ? Math.max(0, m - stats.window) : 0;
    const row = kvRow * this.n + keyBase;
    for (let i = first; i < m; i++) {
      const qp = qPos[qPosBase + i];
      for (let j = 0; j < count; j++) if (keyVisible(qp, kPos[kPosBase + j], mask.causal, mask.window)) this.queryCount[row + j] += 1;
    }
  }

  /** The statistics as f32 tensors of shapes [...headShape, n] and [...kvShape, n] (row probabilities [...headShape, rows, n]). */
  tensors(backend: Backend, headShape: readonly number[], kvShape: readonly number[]): NonNullable<KernelResult['statistics']> {
    const { n } = this;
    const stats: NonNullable<KernelResult['statistics']> = {
      keySum: tensor(this.keySum, [...headShape, n], { dtype: 'f32', backend }),
      keyMax: tensor(this.keyMax, [...headShape, n], { dtype: 'f32', backend }),
      queryCount: tensor(this.queryCount, [...kvShape, n], { dtype: 'f32', backend }),
    };
    if (this.rowProbs) stats.rowProbabilities = tensor(this.rowProbs, [...headShape, this.probRows, n], { dtype: 'f32', backend });
    return stats;
  }
}

/** Wraps kernel results into tensors: output in q's dtype (rounded once), lse and statistics in f32. */
export function kernelResult(
  q: Tensor,
  outShape: readonly number[],
  out: Float64Array,
  lseShape: readonly number[],
  lse: Float64Array | undefined,
  stats: { collector: StatisticsCollector; headShape: readonly number[]; kvShape: readonly number[] } | undefined,
): KernelResult {
  const backend = q.backend;
  const result: KernelResult = { output: outputTensor(out, outShape, q.dtype, backend) };
  if (lse) result.lse = tensor(lse, lseShape, { dtype: 'f32', backend });
  if (stats) result.statistics = stats.collector.tensors(backend, stats.headShape, stats.kvShape);
  return result;
}
