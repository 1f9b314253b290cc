import type { Tensor } from '@kvkit/tensor-core';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';
import { hostFloats, hostInts, scaledQueries } from './host-data.js';
import { fillBlock, kernelResult, type RequestQueries, writeBlock } from './kernel-io.js';
import { SoftmaxState } from './online-softmax.js';
import { accumulateRange, TileScratch } from './tile-loop.js';
import { createQueryBlock, DenseRowSource } from './tile-source.js';

/**
 * ChunkAttention's two-phase partitioned decode over a prefix tree stored in a page pool.
 * Inputs: [q [B,H,m,d], poolKeys, poolValues, poolPositions, queryPositions [B,m],
 * chunkPages [S,kvHeads], chunkCounts [S], chunkUsersIndptr [S+1], chunkUsers [Σ],
 * ownTable [B,kvHeads,maxOwn], ownLengths [B]].
 * Phase 1 (chunk-first): each chunk shared by several requests is read once per KV head while the
 * query rows of all its requests, stacked in one block, attend to it; each request folds that
 * partial result into its shared-prefix state. Phase 2 (sequence-first): each request walks its own
 * chunks. The two partial results merge by log-sum-exp.
 */
export function prefixSharedAttentionCpu(inputs: Tensor[], attrs: KernelAttrs): KernelResult {
  const [q, poolKeys, poolValues, poolPositions, qPositions, chunkPagesT, chunkCountsT, usersIndptrT, usersT, ownTableT, ownLengthsT] = inputs;
  const [batch, qHeads, m, d] = q.shape;
  const P = poolKeys.shape[1];
  const dv = poolValues.shape[2];
  const [, kvHeads, maxOwn] = ownTableT.shape;
  const group = qHeads / kvHeads;
  const rowsPer = group * m;
  const qs = scaledQueries(q, attrs.scale);
  const qPos = hostInts(qPositions);
  const keys = hostFloats(poolKeys);
  const values = hostFloats(poolValues);
  const kPos = hostInts(poolPositions);
  const chunkPages = hostInts(chunkPagesT);
  const chunkCounts = hostInts(chunkCountsT);
  const usersIndptr = hostInts(usersIndptrT);
  const users = hostInts(usersT);
  const ownTable = hostInts(ownTableT);
  const ownLengths = hostInts(ownLengthsT);
  const chunks = chunkCounts.length;
  let maxUsers = 1;
  for (let c = 0; c < chunks; c++) maxUsers = Math.max(maxUsers, usersIndptr[c + 1] - usersIndptr[c]);
  const out = new Float64Array(batch * qHeads * m * dv);
  const lse = attrs.lse ? new Float64Array(batch * qHeads * m) : undefined;
  const stacked = createQueryBlock(maxUsers * rowsPer, d);
  const chunkState = new SoftmaxState(maxUsers * rowsPer, dv);
  const scratch = new TileScratch(maxUsers * rowsPer, attrs.tileSize);
  const source = new DenseRowSource(d, dv, attrs.tileSize);
  const shared = Array.from({ length: batch }, () => new SoftmaxState(rowsPer, dv));
  const own = new SoftmaxState(rowsPer, dv);
  const block = createQueryBlock(rowsPer, d);
  const request = (b: number): RequestQueries => ({ qs, qBase: b * qHeads * m * d, m, qPos, posBase: b * m, headBase: b * qHeads, stats: attrs.statistics });
  const bindPage = (page: number) => source.bind(keys, page * P * d, values, page * P * dv, kPos, page * P);
  for (let kvh = 0; kvh < kvHeads; kvh++) {
    for (const state of shared) state.reset(rowsPer);
    // Phase 1: chunk-first over the shared chunks.
    for (let c = 0; c < chunks; c++) {
      const first = usersIndptr[c];
      const count = usersIndptr[c + 1] - first;
      for (let u = 0; u < count; u++) fillBlock(stacked, request(users[first + u]), kvh, group, 0, m, u * rowsPer);
      chunkState.reset(stacked.rows);
      bindPage(chunkPages[c * kvHeads + kvh]);
      accumulateRange(source, stacked, chunkState, attrs, 0, chunkCounts[c], scratch);
      for (let u = 0; u < count; u++) shared[users[first + u]].merge(chunkState, u * rowsPer);
    }
    // Phase 2: sequence-first over each request's own chunks, then the log-sum-exp merge.
    for (let b = 0; b < batch; b++) {
      fillBlock(block, request(b), kvh, group, 0, m);
      own.reset(rowsPer);
      const len = ownLengths[b];
      for (let p = 0; p * P < len; p++) {
        bindPage(ownTable[(b * kvHeads + kvh) * maxOwn + p]);
        accumulateRange(source, block, own, attrs, 0, Math.min(P, len - p * P), scratch);
      }
      shared[b].merge(own);
      writeBlock(shared[b], block, m, out, 0, lse, 0);
    }
  }
  return kernelResult(q, [batch, qHeads, m, dv], out, [batch, qHeads, m], lse, undefined);
}
