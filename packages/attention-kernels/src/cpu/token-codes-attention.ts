import { hostFloat32, type Tensor } from '@kvkit/tensor-core';
import type { KernelResult } from '../ops/attention-types.js';
import type { TokenCodesKernelAttrs } from '../ops/token-codes-attention.js';
import { hostInts, scaledQueries } from './host-data.js';
import { fillBlock, kernelResult, StatisticsCollector, writeBlock } from './kernel-io.js';
import { accumulateRange, statisticsRange } from './tile-loop.js';
import { hostTokenCodes, TokenCodesRowSource } from './token-codes-source.js';
import { denseWorkspace } from './workspace.js';

const sources = new Map<string, TokenCodesRowSource>();

/** A code source with tile scratch for one shape, reused across calls like `denseWorkspace`'s buffers. */
function codesSource(d: number, dv: number, tile: number): TokenCodesRowSource {
  const key = `${d}:${dv}:${tile}`;
  let source = sources.get(key);
  if (!source) {
    if (sources.size >= 32) sources.delete(sources.keys().next().value as string);
    source = new TokenCodesRowSource(d, dv, tile);
    sources.set(key, source);
  }
  return source;
}

/**
 * Attention over keys and values held as per-token codes (`TokenCodes`), read in place: inputs
 * [q, queryPositions, keyPositions, keyCodes, keyScales, keyZeros, valueCodes, valueScales,
 * valueZeros, keyLogWeights?]; codes [n, ·] or [kvHeads, n, ·]. `mode: 'decode'` runs split-K over
 * the whole query block (partitions merged by log-sum-exp, as `decodeAttention`), `'flash'` blocks
 * of `queryBlock` queries over every key (as `flashAttention`). Without values only the statistics
 * are produced (`attentionStatistics`).
 */
export function tokenCodesAttentionCpu(inputs: Tensor[], attrs: TokenCodesKernelAttrs): KernelResult {
  const [q, qPositions, kPositions, keyCodes, keyScales, keyZeros, valueCodes, valueScales, valueZeros, keyLogWeights] = inputs;
  const [qHeads, m, d] = q.shape;
  const rank = keyCodes.rank;
  const kvHeads = rank === 3 ? keyCodes.shape[0] : 1;
  const n = keyCodes.shape[rank - 2];
  const keys = hostTokenCodes(keyCodes, keyScales, keyZeros, attrs.keyBits, attrs.keyGroupSize);
  const values = attrs.withValues ? hostTokenCodes(valueCodes, valueScales, valueZeros, attrs.valueBits, attrs.valueGroupSize) : undefined;
  const dv = values ? values.dim : 0;
  const group = qHeads / kvHeads;
  const qs = scaledQueries(q, attrs.scale);
  const qPos = hostInts(qPositions);
  const kPos = hostInts(kPositions);
  const logWeights = keyLogWeights && hostFloat32(keyLogWeights);
  const out = new Float64Array(qHeads * m * dv);
  const lse = attrs.lse ? new Float64Array(qHeads * m) : undefined;
  const stats = attrs.statistics.enabled ? new StatisticsCollector(qHeads, kvHeads, n, attrs.statistics.rowProbabilities) : undefined;
  const bq = attrs.mode === 'decode' ? Math.max(1, m) : Math.max(1, Math.min(attrs.queryBlock, m));
  const { block, state, partial, scratch } = denseWorkspace(group * bq, d, dv, attrs.tileSize);
  const source = codesSource(d, dv, attrs.tileSize);
  const request = { qs, qBase: 0, m, qPos, posBase: 0, headBase: 0, stats: attrs.statistics };
  for (let kvh = 0; kvh < kvHeads; kvh++) {
    source.bind(keys, values, kvh * n, kPos, 0, logWeights, kvh * n);
    for (let i0 = 0; i0 < m; i0 += bq) {
      const i1 = Math.min(m, i0 + bq);
      fillBlock(block, request, kvh, group, i0, i1);
      state.reset(block.rows);
      if (attrs.mode === 'flash') accumulateRange(source, block, state, attrs, 0, n, scratch, values !== undefined);
      else {
        for (let p0 = 0; p0 < n; p0 += attrs.partitionSize) {
          partial.reset(block.rows);
          accumulateRange(source, block, partial, attrs, p0, Math.min(n, p0 + attrs.partitionSize), scratch);
          state.merge(partial);
        }
      }
      writeBlock(state, block, m, out, 0, lse, 0);
      if (stats) statisticsRange(source, block, state, attrs, 0, n, 0, stats, scratch);
    }
    stats?.countQueries(kvh, qPos, 0, m, kPos, 0, 0, n, attrs.statistics, attrs);
  }
  return kernelResult(q, [qHeads, m, dv], out, [qHeads, m], lse, stats && { collector: stats, headShape: [qHeads], kvShape: [kvHeads] });
}
