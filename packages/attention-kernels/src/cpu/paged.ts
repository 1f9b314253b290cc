import { hostView, type Tensor } from '@kvkit/tensor-core';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';
import { hostInts, scaledQueries } from './host-data.js';
import { fillBlock, kernelResult, StatisticsCollector, writeBlock } from './kernel-io.js';
import { PageWalker } from './page-walk.js';
import { accumulateRanges } from './tile-loop.js';
import { denseWorkspace } from './workspace.js';

export type PagedAttrs = KernelAttrs & { maxLength: number; queryBlock: number };

/**
 * Decode attention through block tables: q [B, qHeads, m, d]; pool keys [pages, P, d], values
 * [pages, P, dv], positions [pages, P]; table i32 [B, kvHeads, maxPages]; lengths i32 [B, kvHeads];
 * query positions [B, m]. Each KV head of each request walks its own pages (ragged lengths) with
 * one online-softmax state per block of queries; statistics are indexed by the head's storage
 * order, [B, qHeads, maxLength].
 */
export function pagedAttentionCpu(inputs: Tensor[], attrs: PagedAttrs): KernelResult {
  const [q, poolKeys, poolValues, poolPositions, table, lengths, qPositions] = inputs;
  const [batch, qHeads, m, d] = q.shape;
  const dv = poolValues.shape[2];
  const kvHeads = table.shape[1];
  const group = qHeads / kvHeads;
  const L = attrs.maxLength;
  const qs = scaledQueries(q, attrs.scale);
  const lens = hostInts(lengths);
  const qPos = hostInts(qPositions);
  const out = new Float64Array(batch * qHeads * m * dv);
  const lse = attrs.lse ? new Float64Array(batch * qHeads * m) : undefined;
  const stats = attrs.statistics.enabled ? new StatisticsCollector(batch * qHeads, batch * kvHeads, L, attrs.statistics.rowProbabilities) : undefined;
  const bq = Math.max(1, Math.min(attrs.queryBlock, m));
  const { block, state, scratch, source } = denseWorkspace(group * bq, d, dv, attrs.tileSize);
  const pages = new PageWalker(source, poolKeys, poolValues, poolPositions, table);
  for (let b = 0; b < batch; b++) {
    const request = { qs, qBase: b * qHeads * m * d, m, qPos, posBase: b * m, headBase: b * qHeads, stats: attrs.statistics };
    for (let kvh = 0; kvh < kvHeads; kvh++) {
      const row = b * kvHeads + kvh;
      const len = lens[row];
      // Blocks of queries (prefill through a paged cache), each sweeping the head's pages.
      for (let i0 = 0; i0 < m; i0 += bq) {
        fillBlock(block, request, kvh, group, i0, Math.min(m, i0 + bq));
        state.reset(block.rows);
        accumulateRanges(source, block, state, attrs, scratch, (visit) => pages.walk(row, len, (_start, count) => visit(0, count)));
        writeBlock(state, block, m, out, 0, lse, 0);
        if (stats) pages.statistics(row, len, block, state, attrs, stats, scratch);
      }
      if (stats) pages.countQueries(row, len, qPos, b * m, m, attrs, stats);
    }
  }
  return kernelResult(q, [batch, qHeads, m, dv], out, [batch, qHeads, m], lse, stats && { collector: stats, headShape: [batch, qHeads], kvShape: [batch, kvHeads] });
}
/** In place: writes rows i of k, v, positions into slot slots[i] of the pool (same dtype as the pool). */
export function pagedWriteCpu(inputs: Tensor[]): void {
  const [poolKeys, poolValues, poolPositions, k, v, positions, slots] = inputs;
  const d = poolKeys.shape[2];
  const dv = poolValues.shape[2];
  const K = hostView(poolKeys);
  const V = hostView(poolValues);
  const Pos = hostView(poolPositions);
  const kRows = hostView(k);
  const vRows = hostView(v);
  const pos = hostInts(positions);
  const at = hostInts(slots);
  for (let i = 0; i < at.length; i++) {
    const s = at[i];
    K.set(kRows.subarray(i * d, (i + 1) * d), s * d);
    V.set(vRows.subarray(i * dv, (i + 1) * dv), s * dv);
    Pos[s] = pos[i];
  }
}

/** In place: copies slot from[i] to slot to[i], in order. */
export function pagedMoveCpu(inputs: Tensor[]): void {
  const [poolKeys, poolValues, poolPositions, from, to] = inputs;
  const d = poolKeys.shape[2];
  const dv = poolValues.shape[2];
  const K = hostView(poolKeys);
  const V = hostView(poolValues);
  const Pos = hostView(poolPositions);
  const src = hostInts(from);
  const dst = hostInts(to);
  for (let i = 0; i < src.length; i++) {
    K.copyWithin(dst[i] * d, src[i] * d, (src[i] + 1) * d);
    V.copyWithin(dst[i] * dv, src[i] * dv, (src[i] + 1) * dv);
    Pos[dst[i]] = Pos[src[i]];
  }
}
