import { hostView, type Tensor } from '@kvkit/tensor-core';
import type { KernelResult, KiviKernelAttrs } from '../ops/attention-types.js';
import { hostFloats, hostInts, scaledQueries } from './host-data.js';
import { fillBlock, kernelResult, StatisticsCollector, writeBlock } from './kernel-io.js';
import { KiviRowSource } from './kivi-source.js';
import { SoftmaxState } from './online-softmax.js';
import { accumulateRange, statisticsRange, TileScratch } from './tile-loop.js';
import { createQueryBlock } from './tile-source.js';

/**
 * The split-K partitions: tokens cut every `partitionSize` and at the ends of the quantized keys and
 * of the quantized values (a tile never straddles those: its keys or values change format there).
 */
export function kiviSegments(attrs: Pick<KiviKernelAttrs, 'groupSize' | 'length' | 'keyGroups' | 'valueTokens' | 'partitionSize'>): number[] {
  const cuts = new Set<number>([0, attrs.keyGroups * attrs.groupSize, attrs.valueTokens, attrs.length]);
  for (let t = attrs.partitionSize; t < attrs.length; t += attrs.partitionSize) cuts.add(t);
  return [...cuts].sort((x, y) => x - y);
}

/**
 * Fused decode over a KIVI cache: split-K over the tokens (`kiviSegments`), each tile read from
 * its codes (or dequantized in scratch, kivi-source.ts), partials merged by log-sum-exp. Inputs:
 * [q, keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, residualKeys, residualValues,
 * keyPositions, queryPositions].
 */
export function kiviDecodeAttentionCpu(inputs: Tensor[], attrs: KiviKernelAttrs): KernelResult {
  const [q, keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, residualKeys, residualValues, kPositions, qPositions] = inputs;
  const [qHeads, m, d] = q.shape;
  const kvHeads = keyCodes.shape[0];
  const group = qHeads / kvHeads;
  const n = attrs.length;
  const source = new KiviRowSource(
    {
      bits: attrs.bits,
      groupSize: attrs.groupSize,
      valueGroupSize: attrs.valueGroupSize,
      d,
      keyTokens: attrs.keyGroups * attrs.groupSize,
      valueTokens: attrs.valueTokens,
      keyGroupCapacity: keyCodes.shape[1],
      valueTokenCapacity: valueCodes.shape[1],
      residualKeyCapacity: residualKeys.shape[1],
      residualValueCapacity: residualValues.shape[1],
    },
    {
      keyCodes: hostView(keyCodes) as Uint32Array,
      keyScale: hostFloats(keyScale),
      keyMin: hostFloats(keyMin),
      valueCodes: hostView(valueCodes) as Uint32Array,
      valueScale: hostFloats(valueScale),
      valueMin: hostFloats(valueMin),
      residualKeys: hostFloats(residualKeys),
      residualValues: hostFloats(residualValues),
    },
    hostInts(kPositions),
    attrs.tileSize,
  );
  const qs = scaledQueries(q, attrs.scale);
  const qPos = hostInts(qPositions);
  const out = new Float64Array(qHeads * m * d);
  const lse = attrs.lse ? new Float64Array(qHeads * m) : undefined;
  const stats = attrs.statistics.enabled ? new StatisticsCollector(qHeads, kvHeads, n, attrs.statistics.rowProbabilities) : undefined;
  const rows = group * m;
  const block = createQueryBlock(rows, d);
  const total = new SoftmaxState(rows, d);
  const partial = new SoftmaxState(rows, d);
  const scratch = new TileScratch(rows, attrs.tileSize);
  const cuts = kiviSegments(attrs);
  for (let kvh = 0; kvh < kvHeads; kvh++) {
    source.bindHead(kvh);
    fillBlock(block, { qs, qBase: 0, m, qPos, posBase: 0, headBase: 0, stats: attrs.statistics }, kvh, group, 0, m);
    total.reset(rows);
    partial.reset(rows);
    for (let s = 0; s + 1 < cuts.length; s++) {
      accumulateRange(source, block, partial, attrs, cuts[s], cuts[s + 1], scratch);
      total.merge(partial);
      partial.reset(rows);
    }
    writeBlock(total, block, m, out, 0, lse, 0);
    if (stats) for (let s = 0; s + 1 < cuts.length; s++) statisticsRange(source, block, total, attrs, cuts[s], cuts[s + 1], 0, stats, scratch);
    stats?.countQueries(kvh, qPos, 0, m, source.positions, 0, 0, n, attrs.statistics, attrs);
  }
  return kernelResult(q, [qHeads, m, d], out, [qHeads, m], lse, stats && { collector: stats, headShape: [qHeads], kvShape: [kvHeads] });
}
