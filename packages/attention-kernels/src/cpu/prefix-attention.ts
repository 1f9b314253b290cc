import type { Tensor } from '@kvkit/tensor-core';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';
import { hostInts, scaledQueries } from './host-data.js';
import { fillBlock, kernelResult, type RequestQueries, StatisticsCollector, writeBlock } from './kernel-io.js';
import { SoftmaxState } from './online-softmax.js';
import { PageWalker } from './page-walk.js';
import { accumulateRange, accumulateRanges, TileScratch } from './tile-loop.js';
import { createQueryBlock, DenseRowSource } from './tile-source.js';

/**
 * ChunkAttention's two-phase partitioned decode over a prefix tree stored in a page pool.
 * Inputs: [q [B,H,m,d], poolKeys, poolValues, poolPositions, queryPositions [B,m],
 * chunkPages [S,kvHeads], chunkCounts [S], chunkUsersIndptr [S+1], chunkUsers [Σ],
 * ownTable [B,kvHeads,maxOwn], ownLengths [B], runStarts, runSlots, ownStart (GPU only),
 * pathTable [B,kvHeads,maxPath], pathLengths [B,kvHeads] (with statistics)].
 * Phase 1 (chunk-first): each chunk shared by several requests is read once per KV head while the
 * query rows of all its requests, stacked in one block, attend to it; each request folds that
 * partial result into its shared-prefix state. Phase 2 (sequence-first): each request walks its own
 * chunks. The two partial results merge by log-sum-exp. Statistics need every row's final max and
 * sum, known only after the merge: then the paged kernel's statistics pass walks the request's
 * whole path (shared chunks, then own), so statistics are [B, qHeads, maxLength] as for paged caches.
 */
export function prefixSharedAttentionCpu(inputs: Tensor[], attrs: KernelAttrs & { maxLength: number }): KernelResult {
  const [q, poolKeys, poolValues, poolPositions, qPositions, chunkPagesT, chunkCountsT, usersIndptrT, usersT, ownTableT, ownLengthsT] = inputs;
  const [pathTable, pathLengthsT] = inputs.slice(14);
  const [batch, qHeads, m, d] = q.shape;
  const dv = poolValues.shape[2];
  const kvHeads = ownTableT.shape[1];
  const group = qHeads / kvHeads;
  const rowsPer = group * m;
  const qs = scaledQueries(q, attrs.scale);
  const qPos = hostInts(qPositions);
  const chunkPages = hostInts(chunkPagesT);
  const chunkCounts = hostInts(chunkCountsT);
  const usersIndptr = hostInts(usersIndptrT);
  const users = hostInts(usersT);
  const ownLengths = hostInts(ownLengthsT);
  const chunks = chunkCounts.length;
  let maxUsers = 1;
  for (let c = 0; c < chunks; c++) maxUsers = Math.max(maxUsers, usersIndptr[c + 1] - usersIndptr[c]);
  const out = new Float64Array(batch * qHeads * m * dv);
  const lse = attrs.lse ? new Float64Array(batch * qHeads * m) : undefined;
  const stats = attrs.statistics.enabled ? new StatisticsCollector(batch * qHeads, batch * kvHeads, attrs.maxLength, attrs.statistics.rowProbabilities) : undefined;
  const stacked = createQueryBlock(maxUsers * rowsPer, d);
  const chunkState = new SoftmaxState(maxUsers * rowsPer, dv);
  const scratch = new TileScratch(maxUsers * rowsPer, attrs.tileSize);
  const source = new DenseRowSource(d, dv, attrs.tileSize);
  const ownPages = new PageWalker(source, poolKeys, poolValues, poolPositions, ownTableT);
  const path = stats && { pages: new PageWalker(source, poolKeys, poolValues, poolPositions, pathTable), lengths: hostInts(pathLengthsT), stats };
  const shared = Array.from({ length: batch }, () => new SoftmaxState(rowsPer, dv));
  const own = new SoftmaxState(rowsPer, dv);
  const block = createQueryBlock(rowsPer, d);
  const request = (b: number): RequestQueries => ({ qs, qBase: b * qHeads * m * d, m, qPos, posBase: b * m, headBase: b * qHeads, stats: attrs.statistics });
  for (let kvh = 0; kvh < kvHeads; kvh++) {
    for (const state of shared) state.reset(rowsPer);
    // Phase 1: chunk-first over the shared chunks.
    for (let c = 0; c < chunks; c++) {
      const first = usersIndptr[c];
      const count = usersIndptr[c + 1] - first;
      for (let u = 0; u < count; u++) fillBlock(stacked, request(users[first + u]), kvh, group, 0, m, u * rowsPer);
      chunkState.reset(stacked.rows);
      ownPages.bindPage(chunkPages[c * kvHeads + kvh]);
      accumulateRange(source, stacked, chunkState, attrs, 0, chunkCounts[c], scratch);
      for (let u = 0; u < count; u++) shared[users[first + u]].merge(chunkState, u * rowsPer);
    }
    // Phase 2: sequence-first over each request's own chunks, then the log-sum-exp merge.
    for (let b = 0; b < batch; b++) {
      const row = b * kvHeads + kvh;
      fillBlock(block, request(b), kvh, group, 0, m);
      own.reset(rowsPer);
      accumulateRanges(source, block, own, attrs, scratch, (visit) => ownPages.walk(row, ownLengths[b], (_start, count) => visit(0, count)));
      shared[b].merge(own);
      writeBlock(shared[b], block, m, out, 0, lse, 0);
      if (path) {
        path.pages.statistics(row, path.lengths[row], block, shared[b], attrs, path.stats, scratch);
        path.pages.countQueries(row, path.lengths[row], qPos, b * m, m, attrs, path.stats);
      }
    }
  }
  return kernelResult(q, [batch, qHeads, m, dv], out, [batch, qHeads, m], lse, stats && { collector: stats, headShape: [batch, qHeads], kvShape: [batch, kvHeads] });
}
