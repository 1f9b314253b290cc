import { hostFloat32, type Tensor } from '@kvkit/tensor-core';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';
import { hostFloats, hostInts, scaledQueries } from './host-data.js';
import { fillBlock, kernelResult, StatisticsCollector, writeBlock } from './kernel-io.js';
import { accumulateRange, statisticsRange } from './tile-loop.js';
import { denseWorkspace } from './workspace.js';

/**
 * FlashAttention on the CPU: for each KV head, blocks of `queryBlock` queries × every query head of
 * the group (GQA without repeating K/V: a K/V tile is read once for the whole group) sweep the keys
 * tile by tile with the online softmax. Never holds more than one tile of scores. With statistics,
 * a second sweep turns each tile's scores into probabilities with the rows' final max and sum.
 * Without values (`withValues` false) only the statistics are produced.
 */
export function flashAttentionCpu(
  q: Tensor,
  k: Tensor,
  v: Tensor | undefined,
  qPositions: Tensor,
  kPositions: Tensor,
  keyLogWeights: Tensor | undefined,
  attrs: KernelAttrs & { queryBlock: number },
): KernelResult {
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const dv = v ? v.shape[2] : 0;
  const group = qHeads / kvHeads;
  const qs = scaledQueries(q, attrs.scale);
  const keys = hostFloats(k);
  const values = v ? hostFloats(v) : keys;
  const qPos = hostInts(qPositions);
  const kPos = hostInts(kPositions);
  const logWeights = keyLogWeights && hostFloat32(keyLogWeights);
  const out = new Float64Array(qHeads * m * dv);
  const lse = attrs.lse ? new Float64Array(qHeads * m) : undefined;
  const stats = attrs.statistics.enabled ? new StatisticsCollector(qHeads, kvHeads, n, attrs.statistics.rowProbabilities) : undefined;
  const bq = Math.max(1, Math.min(attrs.queryBlock, m));
  const { block, state, scratch, source } = denseWorkspace(group * bq, d, dv, attrs.tileSize);
  const request = { qs, qBase: 0, m, qPos, posBase: 0, headBase: 0, stats: attrs.statistics };
  for (let kvh = 0; kvh < kvHeads; kvh++) {
    source.bind(keys, kvh * n * d, values, kvh * n * dv, kPos, 0, logWeights, kvh * n);
    for (let i0 = 0; i0 < m; i0 += bq) {
      const i1 = Math.min(m, i0 + bq);
      fillBlock(block, request, kvh, group, i0, i1);
      state.reset(block.rows);
      accumulateRange(source, block, state, attrs, 0, n, scratch, v !== undefined);
      writeBlock(state, block, m, out, 0, lse, 0);
      if (stats) statisticsRange(source, block, state, attrs, 0, n, 0, stats, scratch);
    }
    stats?.countQueries(kvh, qPos, 0, m, kPos, 0, 0, n, attrs.statistics, attrs);
  }
  return kernelResult(q, [qHeads, m, dv], out, [qHeads, m], lse, stats && { collector: stats, headShape: [qHeads], kvShape: [kvHeads] });
}
