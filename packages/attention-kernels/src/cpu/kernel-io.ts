import { type Backend, keyVisible, type Tensor, tensor } from '@kvkit/tensor-core';
import type { KernelResult, StatisticsAttrs } from '../ops/attention-types.js';
import { outputTensor } from './host-data.js';
import type { SoftmaxState } from './online-softmax.js';
import type { QueryBlock } from './tile-source.js';
import type { KeyStatisticArrays } from './tile-loop.js';

/**
 * Fills `block` with the rows of KV head `kvh` for queries [i0, i1) of one request: row
 * r = (head in group)·(i1 − i0) + (i − i0). `qs` holds the request's scaled queries [qHeads, m, d]
 * from element `qBase`; its positions start at `qPos[posBase]`.
 */
export function fillBlock(
  block: QueryBlock,
  qs: Float64Array,
  qBase: number,
  m: number,
  kvh: number,
  group: number,
  i0: number,
  i1: number,
  qPos: Int32Array,
  posBase: number,
  stats: StatisticsAttrs,
): void {
  const d = block.d;
  const span = i1 - i0;
  block.rows = group * span;
  const firstStat = stats.window > 0 ? m - stats.window : 0;
  for (let g = 0; g < group; g++) {
    const h = kvh * group + g;
    for (let i = i0; i < i1; i++) {
      const r = g * span + (i - i0);
      block.q.set(qs.subarray(qBase + (h * m + i) * d, qBase + (h * m + i + 1) * d), r * d);
      block.pos[r] = qPos[posBase + i];
      block.head[r] = h;
      block.query[r] = i;
      block.statWeight[r] = stats.enabled && i >= firstStat ? stats.decay ** (m - 1 - i) : 0;
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

/** Per-key statistic arrays for `qHeads` heads over `n` keys, and the visible-query counts. */
export class StatisticsCollector implements KeyStatisticArrays {
  readonly keySum: Float64Array;
  readonly keyMax: Float64Array;
  readonly queryCount: Float64Array;

  constructor(
    readonly qHeads: number,
    readonly n: number,
  ) {
    this.keySum = new Float64Array(qHeads * n);
    this.keyMax = new Float64Array(qHeads * n);
    this.queryCount = new Float64Array(n);
  }

  /** Counts, for keys [keyBase, keyBase + count), the contributing queries that can see them. */
  countQueries(
    qPos: Int32Array,
    posBase: number,
    m: number,
    kPos: Int32Array,
    kPosBase: number,
    keyBase: number,
    count: number,
    stats: StatisticsAttrs,
    causal: boolean,
    window: number,
  ): void {
    const first = stats.window > 0 ? Math.max(0, m - stats.window) : 0;
    for (let i = first; i < m; i++) {
      const qp = qPos[posBase + i];
      for (let j = 0; j < count; j++) if (keyVisible(qp, kPos[kPosBase + j], causal, window)) this.queryCount[keyBase + j] += 1;
    }
  }

  tensors(backend: Backend): NonNullable<KernelResult['statistics']> {
    const { qHeads, n } = this;
    return {
      keySum: tensor(this.keySum, [qHeads, n], { dtype: 'f32', backend }),
      keyMax: tensor(this.keyMax, [qHeads, n], { dtype: 'f32', backend }),
      queryCount: tensor(this.queryCount, [n], { dtype: 'f32', backend }),
    };
  }
}

/** Wraps kernel results into tensors: output in q's dtype (rounded once), lse and statistics in f32. */
export function kernelResult(
  q: Tensor,
  outShape: readonly number[],
  out: Float64Array,
  lseShape: readonly number[],
  lse: Float64Array | undefined,
  stats: StatisticsCollector | undefined,
): KernelResult {
  const backend = q.backend;
  const result: KernelResult = { output: outputTensor(out, outShape, q.dtype, backend) };
  if (lse) result.lse = tensor(lse, lseShape, { dtype: 'f32', backend });
  if (stats) result.statistics = stats.tensors(backend);
  return result;
}
