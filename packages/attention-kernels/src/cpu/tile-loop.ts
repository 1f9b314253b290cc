import { keyVisible } from '@kvkit/tensor-core';
import type { SoftmaxState } from './online-softmax.js';
import { RowAttentionRun } from './row-attention.js';
import { classifyRows, HIDDEN, type MaskAttrs, PARTIAL, positionRange } from './row-visibility.js';
import type { QueryBlock, TileSource } from './tile-source.js';

/** Per-call scratch of the tile loop: scores/probabilities of a tile and the per-row visibility class. */
export class TileScratch {
  scores: Float64Array;
  active: Uint8Array;

  constructor(
    rows: number,
    readonly tile: number,
  ) {
    this.scores = new Float64Array(rows * tile);
    this.active = new Uint8Array(rows);
  }

  ensureRows(rows: number): void {
    if (this.active.length < rows) {
      this.scores = new Float64Array(rows * this.tile);
      this.active = new Uint8Array(rows);
    }
  }
}

/**
 * Masks (partial rows), soft-caps and adds the keys' log weights to the raw scores of row r in
 * place, for tokens [t0, t0 + count) of `source`; returns the row's maximum (−∞ when no key is
 * visible, NaN propagates like in the reference).
 */
function finishScores(s: Float64Array, o: number, count: number, cls: number, qp: number, source: TileSource, t0: number, mask: MaskAttrs): number {
  const { causal, window, softcap } = mask;
  const positions = source.positions;
  const pBase = source.positionBase + t0;
  const lw = source.logWeights;
  const lwBase = source.logWeightBase + t0;
  let max = -Infinity;
  for (let t = 0; t < count; t++) {
    let x = s[o + t];
    if (cls === PARTIAL && !keyVisible(qp, positions[pBase + t], causal, window)) {
      s[o + t] = -Infinity;
      continue;
    }
    if (softcap > 0) x = softcap * Math.tanh(x / softcap);
    if (lw) x += lw[lwBase + t];
    s[o + t] = x;
    if (x > max || x !== x) max = x;
  }
  return max;
}

/**
 * Classifies the rows against tokens [t0, t0 + count) and, when any row sees them, loads the tile
 * and computes the raw scores of the visible rows. For the statistics pass (`finished` given) only
 * rows that contribute statistics and saw some key in pass 1 take part.
 */
function scoreTile(source: TileSource, block: QueryBlock, mask: MaskAttrs, t0: number, count: number, scratch: TileScratch, finished: SoftmaxState | undefined): boolean {
  const active = scratch.active;
  const [pMin, pMax] = positionRange(source.positions, source.positionBase + t0, count);
  if (!classifyRows(block, mask, pMin, pMax, active, finished !== undefined)) return false;
  if (finished) for (let r = 0; r < block.rows; r++) if (active[r] !== HIDDEN && finished.sum[r] === 0) active[r] = HIDDEN;
  source.load(t0, t0 + count);
  source.scores(block, active, count, scratch.scores, scratch.tile);
  return true;
}

/**
 * Pass 1 of every kernel: folds tokens [a, b) of `source` into `state`, one tile at a time, with
 * the online softmax. Tiles no row can see are skipped without reading them. Without values only
 * the row maxima and sums are kept (statistics-only passes).
 */
export function accumulateRange(
  source: TileSource,
  block: QueryBlock,
  state: SoftmaxState,
  mask: MaskAttrs,
  a: number,
  b: number,
  scratch: TileScratch,
  withValues = true,
): void {
  accumulateRanges(source, block, state, mask, scratch, (visit) => visit(a, b), withValues);
}

/**
 * Pass 1 over several ranges of one block's keys: `walk(visit)` calls visit(a, b) for each, with
 * `source` bound to that range's rows (a paged cache's pages, a request's own chunks). Where the
 * fused row kernel serves (row-attention.ts), the block's queries and state stay in its arena
 * across every range. Without values only the row maxima and sums are kept.
 */
export function accumulateRanges(
  source: TileSource,
  block: QueryBlock,
  state: SoftmaxState,
  mask: MaskAttrs,
  scratch: TileScratch,
  walk: (visit: (a: number, b: number) => void) => void,
  withValues = true,
): void {
  const fused = RowAttentionRun.within(source, block, state, mask, scratch, { values: withValues, statistics: false }, (run) => walk((a, b) => run.range(source, a, b)));
  if (!fused) walk((a, b) => foldTiles(source, block, state, mask, a, b, scratch, withValues));
}

/** The generic tile loop of pass 1: scores through the source, the online softmax here, values through the source. */
function foldTiles(source: TileSource, block: QueryBlock, state: SoftmaxState, mask: MaskAttrs, a: number, b: number, scratch: TileScratch, withValues: boolean): void {
  const { tile } = scratch;
  const s = scratch.scores;
  const active = scratch.active;
  for (let t0 = a; t0 < b; t0 += tile) {
    const count = Math.min(tile, b - t0);
    if (!scoreTile(source, block, mask, t0, count, scratch, undefined)) continue;
    for (let r = 0; r < block.rows; r++) {
      const cls = active[r];
      if (cls === HIDDEN) continue;
      const o = r * tile;
      const tileMax = finishScores(s, o, count, cls, block.pos[r], source, t0, mask);
      if (tileMax === -Infinity) {
        active[r] = HIDDEN;
        continue;
      }
      const old = state.max[r];
      const m = tileMax !== tileMax || tileMax > old ? tileMax : old;
      if (m !== old) state.rescale(r, m);
      let sum = 0;
      for (let t = 0; t < count; t++) {
        const p = Math.exp(s[o + t] - m);
        s[o + t] = p;
        sum += p;
      }
      state.sum[r] += sum;
    }
    if (withValues) source.accumulate(block, active, count, s, tile, state.acc);
  }
}

/** Per-key statistics accumulated over query rows: Σ weight·p and max p, per query head. */
export interface KeyStatisticArrays {
  /** Keys per head row of the arrays. */
  n: number;
  keySum: Float64Array;
  keyMax: Float64Array;
  /** [heads, probRows, n]: probability rows of the last contributing queries, when asked for. */
  rowProbs: Float64Array | undefined;
  probRows: number;
}

/**
 * Pass 2 (only when statistics are asked for): recomputes the scores of tokens [a, b) tile by tile
 * and, with each row's final max and sum from pass 1, adds p = exp(s − max) / sum to the per-key
 * statistics at key index `keyBase + t`. No score matrix is ever held.
 */
export function statisticsRange(
  source: TileSource,
  block: QueryBlock,
  state: SoftmaxState,
  mask: MaskAttrs,
  a: number,
  b: number,
  keyBase: number,
  stats: KeyStatisticArrays,
  scratch: TileScratch,
): void {
  statisticsRanges(source, block, state, mask, stats, scratch, (visit) => visit(a, b, keyBase));
}

/**
 * Pass 2 over several ranges of one block's keys: `walk(visit)` calls visit(a, b, keyBase) for
 * each, with `source` bound to that range's rows (a paged cache's pages); tokens [a, b) go to key
 * indices keyBase + t. Where the row kernel serves, one run stages the block once for every range.
 */
export function statisticsRanges(
  source: TileSource,
  block: QueryBlock,
  state: SoftmaxState,
  mask: MaskAttrs,
  stats: KeyStatisticArrays,
  scratch: TileScratch,
  walk: (visit: (a: number, b: number, keyBase: number) => void) => void,
): void {
  const fused = RowAttentionRun.within(source, block, state, mask, scratch, { values: false, statistics: true }, (run) =>
    walk((a, b, keyBase) => run.statistics(source, a, b, keyBase, stats)),
  );
  if (!fused) walk((a, b, keyBase) => statisticTiles(source, block, state, mask, a, b, keyBase, stats, scratch));
}

/** The generic tile loop of pass 2: scores through the source, the probabilities and statistics here. */
function statisticTiles(source: TileSource, block: QueryBlock, state: SoftmaxState, mask: MaskAttrs, a: number, b: number, keyBase: number, stats: KeyStatisticArrays, scratch: TileScratch): void {
  const { tile } = scratch;
  const s = scratch.scores;
  const active = scratch.active;
  const { keySum, keyMax, n, rowProbs, probRows } = stats;
  for (let t0 = a; t0 < b; t0 += tile) {
    const count = Math.min(tile, b - t0);
    if (!scoreTile(source, block, mask, t0, count, scratch, state)) continue;
    for (let r = 0; r < block.rows; r++) {
      const cls = active[r];
      if (cls === HIDDEN) continue;
      const o = r * tile;
      finishScores(s, o, count, cls, block.pos[r], source, t0, mask);
      const m = state.max[r];
      const inv = 1 / state.sum[r];
      const w = block.statWeight[r];
      const row = block.head[r] * n + keyBase + t0;
      const probRow = rowProbs && block.probRow[r] >= 0 ? (block.head[r] * probRows + block.probRow[r]) * n + keyBase + t0 : -1;
      for (let t = 0; t < count; t++) {
        const p = Math.exp(s[o + t] - m) * inv;
        keySum[row + t] += w * p;
        if (p > keyMax[row + t]) keyMax[row + t] = p;
        if (probRow >= 0) (rowProbs as Float64Array)[probRow + t] = p;
      }
    }
  }
}
