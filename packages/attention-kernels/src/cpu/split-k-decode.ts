import { hostFloat32, type Tensor } from '@kvkit/tensor-core';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';
import { hostFloats, hostInts, scaledQueries } from './host-data.js';
import { fillBlock, kernelResult, StatisticsCollector, writeBlock } from './kernel-io.js';
import type { MaskAttrs } from './row-visibility.js';
import { accumulateRange, statisticsRange } from './tile-loop.js';
import { type DenseWorkspace, denseWorkspace } from './workspace.js';

/**
 * partitionAuto: the caller gave no partition size, so `partitionSize` is the default (512) and a
 * backend may choose its own (CUDA sizes partitions to fill the device; cuda/auto-partition.ts).
 */
export type SplitKAttrs = KernelAttrs & { partitionSize: number; partitionAuto?: boolean };

/**
 * Flash-decoding for the rows in `ws.block` over keys [0, n) of the bound source: the key range is
 * cut into partitions of `partitionSize`, each reduced to its own (max, sum, partial output), and
 * the partials are merged by log-sum-exp — the structure a GPU runs in parallel, one partition per
 * thread block. Result in `ws.state`.
 */
function splitK(ws: DenseWorkspace, mask: MaskAttrs, n: number, partitionSize: number): void {
  ws.state.reset(ws.block.rows);
  for (let p0 = 0; p0 < n; p0 += partitionSize) {
    ws.partial.reset(ws.block.rows);
    accumulateRange(ws.source, ws.block, ws.partial, mask, p0, Math.min(n, p0 + partitionSize), ws.scratch);
    ws.state.merge(ws.partial);
  }
}

/** One request: queries [qHeads, m, d] from `qBase`, keys [kvHeads, total, d] rows [start, start + n). */
function decodeRequest(
  ws: DenseWorkspace,
  attrs: SplitKAttrs,
  io: ReturnType<typeof ioFor>,
  shape: { qHeads: number; kvHeads: number; m: number; d: number; dv: number; total: number },
  request: number,
  start: number,
  n: number,
): void {
  const { qHeads, kvHeads, m, d, dv, total } = shape;
  const group = qHeads / kvHeads;
  const qBase = request * qHeads * m * d;
  for (let kvh = 0; kvh < kvHeads; kvh++) {
    ws.source.bind(io.keys, (kvh * total + start) * d, io.values, (kvh * total + start) * dv, io.kPos, start, io.logWeights, kvh * total + start);
    fillBlock(ws.block, { qs: io.qs, qBase, m, qPos: io.qPos, posBase: request * m, headBase: 0, stats: attrs.statistics }, kvh, group, 0, m);
    splitK(ws, attrs, n, attrs.partitionSize);
    writeBlock(ws.state, ws.block, m, io.out, request * qHeads * m * dv, io.lse, request * qHeads * m);
    if (io.stats) statisticsRange(ws.source, ws.block, ws.state, attrs, 0, n, start, io.stats, ws.scratch);
    io.stats?.countQueries(kvh, io.qPos, request * m, m, io.kPos, start, start, n, attrs.statistics, attrs);
  }
}

/** Split-K decode of one request: q [qHeads, m, d] over k, v [kvHeads, n, ·]. */
export function decodeAttentionCpu(q: Tensor, k: Tensor, v: Tensor, qPositions: Tensor, kPositions: Tensor, keyLogWeights: Tensor | undefined, attrs: SplitKAttrs): KernelResult {
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const dv = v.shape[2];
  const io = ioFor(q, k, v, qPositions, kPositions, keyLogWeights, attrs, qHeads * m * dv, qHeads * m, qHeads, kvHeads, n);
  const ws = denseWorkspace((qHeads / kvHeads) * m, d, dv, attrs.tileSize);
  decodeRequest(ws, attrs, io, { qHeads, kvHeads, m, d, dv, total: n }, 0, 0, n);
  return kernelResult(q, [qHeads, m, dv], io.out, [qHeads, m], io.lse, io.stats && { collector: io.stats, headShape: [qHeads], kvShape: [kvHeads] });
}

/**
 * Split-K decode of a batch of requests with different KV lengths: q [batch, qHeads, m, d]; keys of
 * request b are rows [indptr[b], indptr[b+1]) of k, v [kvHeads, total, ·] (ragged, packed).
 */
export function batchedDecodeAttentionCpu(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  qPositions: Tensor,
  kPositions: Tensor,
  kvIndptr: Tensor,
  keyLogWeights: Tensor | undefined,
  attrs: SplitKAttrs,
): KernelResult {
  const [batch, qHeads, m, d] = q.shape;
  const [kvHeads, total] = k.shape;
  const dv = v.shape[2];
  const indptr = hostInts(kvIndptr);
  const io = ioFor(q, k, v, qPositions, kPositions, keyLogWeights, attrs, batch * qHeads * m * dv, batch * qHeads * m, qHeads, kvHeads, total);
  const ws = denseWorkspace((qHeads / kvHeads) * m, d, dv, attrs.tileSize);
  for (let b = 0; b < batch; b++) decodeRequest(ws, attrs, io, { qHeads, kvHeads, m, d, dv, total }, b, indptr[b], indptr[b + 1] - indptr[b]);
  return kernelResult(q, [batch, qHeads, m, dv], io.out, [batch, qHeads, m], io.lse, io.stats && { collector: io.stats, headShape: [qHeads], kvShape: [kvHeads] });
}

function ioFor(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  qPositions: Tensor,
  kPositions: Tensor,
  keyLogWeights: Tensor | undefined,
  attrs: SplitKAttrs,
  outSize: number,
  lseSize: number,
  qHeads: number,
  kvHeads: number,
  keys: number,
) {
  return {
    logWeights: keyLogWeights && hostFloat32(keyLogWeights),
    qs: scaledQueries(q, attrs.scale),
    qPos: hostInts(qPositions),
    keys: hostFloats(k),
    values: hostFloats(v),
    kPos: hostInts(kPositions),
    out: new Float64Array(outSize),
    lse: attrs.lse ? new Float64Array(lseSize) : undefined,
    stats: attrs.statistics.enabled ? new StatisticsCollector(qHeads, kvHeads, keys, attrs.statistics.rowProbabilities) : undefined,
  };
}
