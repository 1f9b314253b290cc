// The tile loop of row sources (dense, paged and prefix pages, per-token codes, KIVI) in one WebAssembly
// call per tile (`row-attention.wat`): scores, mask, online softmax and the weighted values of every
// row of the block, in float32 SIMD. The generic loop (tile-loop.ts) runs the scores and values in
// float64 and the softmax in JavaScript, a round trip per tile; at decode shapes that round trip and
// the float64 products were most of the time. A run keeps the block's queries and softmax state in
// the arena across every range it is given (a paged cache's pages), so they cross once per block.
// Sources write their tiles into the arena as f32 rows (`RowTileSource.stageRows`: copied, f16
// converted, KIVI's codes dequantized by kivi-rows.wat, bound in the same memory). The statistics
// pass after pass 1 (per-key sums and maxima of the probabilities) runs here too (`rowStatistics`).
// Soft-capped scores (tanh) and head dims that are not a multiple of 4 take the generic loop.
import { fusedMultiplyAddActive, keptModuleViews, type SimdArena } from '@kvkit/tensor-core';
import { type ArenaViews, arenaViews } from './arena-views.js';
import type { KiviRowKernels } from './kivi-source.js';
import kiviRowsWasm from './kivi-rows.wat';
import type { SoftmaxState } from './online-softmax.js';
import rowAttentionWasm, { fused as rowAttentionFusedWasm } from './row-attention.wat';
import { classifyRows, HIDDEN, type MaskAttrs, positionRange } from './row-visibility.js';
import type { KeyStatisticArrays, TileScratch } from './tile-loop.js';
import { type QueryBlock, RowTileSource, type TileSource, type TileStaging } from './tile-source.js';

/** Both kernels' leading parameters (byte addresses): the block's rows and the staged tile of `count` keys. */
type TileParams = [rows: number, q: number, d: number, info: number, k: number, count: number];
/** And the mask's, the log weights', the scores' scratch and the rows' state. */
type MaskParams = [kpos: number, causal: number, window: number, logWeights: number, p: number, state: number];

interface RowAttentionKernels extends KiviRowKernels {
  attendRows(...params: [...TileParams, v: number, dv: number, ...MaskParams]): void;
  rowStatistics(...params: [...TileParams, ...MaskParams, rowStats: number, sums: number, maxes: number, probs: number]): void;
}

/** This module's own view maker: `keptModuleViews` keys its cache by the function. */
const viewsOf = (arena: SimdArena<RowAttentionKernels>): ArenaViews<RowAttentionKernels> => arenaViews(arena);

/** Byte places (from the arena's start, each on a 16-byte boundary) of one run's operands, as row-attention.wat reads them. */
class RunLayout {
  readonly q: number;
  readonly info: number;
  readonly state: number;
  readonly kpos: number;
  readonly logWeights: number;
  readonly p: number;
  readonly k: number;
  readonly v: number;
  readonly scratch: number;
  /** The statistics pass's: per row its weight, slot and whether it returns probabilities; per slot (a query head) sums and maxima of the tile's keys; per row probabilities. */
  readonly rowStats: number;
  readonly sums: number;
  readonly maxes: number;
  readonly probs: number;
  readonly bytes: number;
  /** Whether the statistics areas are there (a statistics run's layout). */
  readonly statistics: boolean;

  constructor(rows: number, d: number, dv: number, tile: number, scratchBytes: number, statistics: boolean) {
    // Scores are computed four keys at a time: the key tile and its per-key arrays hold `tile` rounded up to 4.
    const keys = Math.ceil(tile / 4) * 4;
    let at = 0;
    const take = (bytes: number) => {
      const here = at;
      at += Math.ceil(bytes / 16) * 16;
      return here;
    };
    this.q = take(rows * d * 4);
    this.info = take(rows * 8);
    this.state = take(rows * (2 + dv) * 8);
    this.kpos = take(keys * 4);
    this.logWeights = take(keys * 4);
    this.p = take((keys + 4) * 4); // a row's scores, then four floats of scratch for its rescaling factor
    this.k = take(keys * d * 4);
    this.v = take(tile * dv * 4);
    this.scratch = take(scratchBytes);
    const statisticRows = statistics ? rows : 0;
    this.rowStats = take(statisticRows * 16);
    this.sums = take(statisticRows * keys * 8);
    this.maxes = take(statisticRows * keys * 8);
    this.probs = take(statisticRows * keys * 8);
    this.bytes = at;
    this.statistics = statistics;
  }
}

/** The modules a run binds (the lists are the kept arenas' keys): the row kernel with fused multiply-adds where the dense products fuse theirs (tensor-core's `setFusedMultiplyAdd`), and KIVI's staging. */
const PLAIN_MODULES = [rowAttentionWasm, kiviRowsWasm];
const FUSED_MODULES = rowAttentionFusedWasm ? [rowAttentionFusedWasm, kiviRowsWasm] : PLAIN_MODULES;
const rowAttentionModules = (): readonly Uint8Array[] => (fusedMultiplyAddActive() ? FUSED_MODULES : PLAIN_MODULES);

/** Whether a run is open: the kept arena holds its state, so a second one waits for the generic loop. */
let running = false;

/**
 * One block of query rows folding ranges of keys into its softmax state through row-attention.wat.
 * `open` stages the queries and the state (null where the kernel does not serve); `range` folds
 * tokens [a, b) of a row source as it is bound at the time, or `statistics` adds their per-key
 * statistics given the final state; `close` writes the state back.
 */
export class RowAttentionRun {
  /** Keys staged for the next kernel call (a tile fills from several short ranges: a paged cache's pages), and their position range. */
  private pending = 0;
  private pMin = Infinity;
  private pMax = -Infinity;
  /** Whether a staged key came with a log weight (keys without one then stage 0). */
  private weighted = false;

  private constructor(
    private readonly views: ArenaViews<RowAttentionKernels>,
    private readonly layout: RunLayout,
    private readonly block: QueryBlock,
    private readonly state: SoftmaxState,
    private readonly mask: MaskAttrs,
    private readonly scratch: TileScratch,
    private readonly dv: number,
    /** The query head of each statistics slot (a statistics run's; its rows' slots are staged at open). */
    private readonly slotHeads: readonly number[],
  ) {}

  /**
   * `body(run)` with a run open (see `open`), closed after it even when it throws; false, and no
   * call, where the kernel does not serve.
   */
  static within(
    source: TileSource,
    block: QueryBlock,
    state: SoftmaxState,
    mask: MaskAttrs,
    scratch: TileScratch,
    use: { values: boolean; statistics: boolean },
    body: (run: RowAttentionRun) => void,
  ): boolean {
    const run = RowAttentionRun.open(source, block, state, mask, scratch, use);
    if (!run) return false;
    try {
      body(run);
    } finally {
      run.close();
    }
    return true;
  }

  /**
   * `use.values` false (statistics-only passes): the run keeps each row's maximum and sum only.
   * `use.statistics`: for `statistics` (the pass after pass 1, given the final state, which the
   * run only reads): its rows' weights and head slots are staged once here.
   */
  static open(
    source: TileSource,
    block: QueryBlock,
    state: SoftmaxState,
    mask: MaskAttrs,
    scratch: TileScratch,
    use: { values: boolean; statistics: boolean } = { values: true, statistics: false },
  ): RowAttentionRun | null {
    if (running || mask.softcap !== 0 || !(source instanceof RowTileSource)) return null;
    const { d } = source;
    const dv = use.values ? source.dv : 0;
    if (d % 4 !== 0 || dv % 4 !== 0 || block.d !== d) return null;
    const layout = new RunLayout(block.rows, d, dv, scratch.tile, source.stagingScratchBytes(scratch.tile), use.statistics);
    const views = keptModuleViews(rowAttentionModules(), layout.bytes, viewsOf);
    if (!views) return null;
    running = true;
    const { f32, f64, i32 } = views;
    f32.set(block.q.subarray(0, block.rows * d), layout.q >> 2);
    for (let r = 0, st = layout.state >> 3; r < block.rows; r++, st += 2 + dv) {
      f64[st] = state.max[r];
      f64[st + 1] = state.sum[r];
      f64.set(state.acc.subarray(r * dv, (r + 1) * dv), st + 2);
    }
    // One slot per query head among the block's rows: its sums and maxima are staged once per tile.
    const slotHeads: number[] = [];
    if (use.statistics) {
      for (let r = 0; r < block.rows; r++) {
        let slot = slotHeads.indexOf(block.head[r]);
        if (slot < 0) slot = slotHeads.push(block.head[r]) - 1;
        f64[(layout.rowStats >> 3) + 2 * r] = block.statWeight[r];
        i32[(layout.rowStats >> 2) + 4 * r + 2] = slot;
        i32[(layout.rowStats >> 2) + 4 * r + 3] = block.probRow[r] >= 0 ? 1 : 0;
      }
    }
    return new RowAttentionRun(views, layout, block, state, mask, scratch, dv, slotHeads);
  }

  /**
   * Folds tokens [a, b) of `source` (the row source the run was opened for, rebound as the caller
   * walks) into the staged state: their rows join the tile being filled, and each full tile goes to
   * the kernel. Keys no row of the block can see are never loaded.
   */
  range(source: TileSource, a: number, b: number): void {
    if (!(source instanceof RowTileSource)) throw new Error('RowAttentionRun.range: the run reads row sources only');
    const { views, layout, block, mask, dv } = this;
    const { base, f32 } = views;
    const { d } = source;
    const { tile, active } = this.scratch;
    const staging = this.staging(dv > 0);
    for (let t0 = a; t0 < b; ) {
      const count = Math.min(tile - this.pending, b - t0);
      const [pMin, pMax] = positionRange(source.positions, source.positionBase + t0, count);
      if (classifyRows(block, mask, pMin, pMax, active, false)) {
        const at = this.pending;
        staging.keys = base + layout.k + 4 * at * d;
        staging.values = base + layout.v + 4 * at * dv;
        this.stageTokens(source, staging, t0, count, at);
        const lw = source.logWeights;
        const lwAt = (layout.logWeights >> 2) + at;
        if (lw && !this.weighted) f32.fill(0, layout.logWeights >> 2, lwAt);
        if (lw) f32.set(lw.subarray(source.logWeightBase + t0, source.logWeightBase + t0 + count), lwAt);
        else if (this.weighted) f32.fill(0, lwAt, lwAt + count);
        this.weighted ||= lw !== undefined;
        this.pending += count;
        this.pMin = Math.min(this.pMin, pMin);
        this.pMax = Math.max(this.pMax, pMax);
        if (this.pending === tile) this.flush();
      }
      t0 += count;
    }
  }

  /** Runs the kernel over the staged keys. */
  private flush(): void {
    const count = this.pending;
    if (count === 0) return;
    const { views, layout, block, mask, dv } = this;
    const { kernels, base, i32 } = views;
    const { active } = this.scratch;
    classifyRows(block, mask, this.pMin, this.pMax, active, false);
    for (let r = 0, at = layout.info >> 2; r < block.rows; r++, at += 2) {
      i32[at] = active[r];
      i32[at + 1] = block.pos[r];
    }
    kernels.attendRows(...this.tileParams(count), base + layout.v, dv, ...this.maskParams(this.weighted));
    this.pending = 0;
    this.pMin = Infinity;
    this.pMax = -Infinity;
    this.weighted = false;
  }

  /**
   * The statistics pass (tile-loop.ts's `statisticsRange`) over tokens [a, b) of `source`, for a run
   * opened without values and with statistics, on the final state of pass 1: token t's statistics
   * go to key index keyBase + t of `stats`. Rows outside the observation window, and rows that saw
   * no key in pass 1, take no part.
   */
  statistics(source: TileSource, a: number, b: number, keyBase: number, stats: KeyStatisticArrays): void {
    if (!(source instanceof RowTileSource)) throw new Error('RowAttentionRun.statistics: the run reads row sources only');
    const { views, layout, block, mask, state, slotHeads } = this;
    const { kernels, base, f32, f64, i32 } = views;
    const { tile, active } = this.scratch;
    const { keySum, keyMax, n, rowProbs, probRows } = stats;
    const staging = this.staging(false);
    staging.keys = base + layout.k;
    for (let t0 = a; t0 < b; t0 += tile) {
      const count = Math.min(tile, b - t0);
      const [pMin, pMax] = positionRange(source.positions, source.positionBase + t0, count);
      if (!classifyRows(block, mask, pMin, pMax, active, true)) continue;
      let any = false;
      for (let r = 0, at = layout.info >> 2; r < block.rows; r++, at += 2) {
        if (state.sum[r] === 0) active[r] = HIDDEN;
        i32[at] = active[r];
        i32[at + 1] = block.pos[r];
        any ||= active[r] !== HIDDEN;
      }
      if (!any) continue;
      this.stageTokens(source, staging, t0, count, 0);
      const lw = source.logWeights;
      if (lw) f32.set(lw.subarray(source.logWeightBase + t0, source.logWeightBase + t0 + count), layout.logWeights >> 2);
      const at = keyBase + t0;
      // The kernel's rows of sums, maxima and probabilities are the tile's keys rounded up to 4 apart.
      const keys = Math.ceil(count / 4) * 4;
      slotHeads.forEach((head, slot) => {
        f64.set(keySum.subarray(head * n + at, head * n + at + count), (layout.sums >> 3) + slot * keys);
        f64.set(keyMax.subarray(head * n + at, head * n + at + count), (layout.maxes >> 3) + slot * keys);
      });
      kernels.rowStatistics(...this.tileParams(count), ...this.maskParams(lw !== undefined), base + layout.rowStats, base + layout.sums, base + layout.maxes, base + layout.probs);
      slotHeads.forEach((head, slot) => {
        keySum.set(f64.subarray((layout.sums >> 3) + slot * keys, (layout.sums >> 3) + slot * keys + count), head * n + at);
        keyMax.set(f64.subarray((layout.maxes >> 3) + slot * keys, (layout.maxes >> 3) + slot * keys + count), head * n + at);
      });
      if (!rowProbs) continue;
      for (let r = 0; r < block.rows; r++) {
        if (active[r] === HIDDEN || block.probRow[r] < 0) continue;
        const from = (layout.probs >> 3) + r * keys;
        rowProbs.set(f64.subarray(from, from + count), (block.head[r] * probRows + block.probRow[r]) * n + at);
      }
    }
  }

  /** Where a source writes its tile's rows (keys and values filled in by the caller) and its scratch. */
  private staging(withValues: boolean): TileStaging {
    const { arena, base, f32, u32 } = this.views;
    return { arena, base, keys: 0, values: 0, withValues, scratch: base + this.layout.scratch, f32, u32 };
  }

  /** Tokens [t0, t0 + count) of `source` into the tile from its slot `at`: their rows (through the source) and their positions. */
  private stageTokens(source: RowTileSource, staging: TileStaging, t0: number, count: number, at: number): void {
    source.stageRows(staging, t0, count);
    const from = source.positionBase + t0;
    this.views.i32.set(source.positions.subarray(from, from + count), (this.layout.kpos >> 2) + at);
  }

  private tileParams(count: number): TileParams {
    const { base } = this.views;
    const { layout } = this;
    return [this.block.rows, base + layout.q, this.block.d, base + layout.info, base + layout.k, count];
  }

  private maskParams(weighted: boolean): MaskParams {
    const { base } = this.views;
    const { layout, mask } = this;
    return [base + layout.kpos, mask.causal ? 1 : 0, mask.window, weighted ? base + layout.logWeights : 0, base + layout.p, base + layout.state];
  }

  /** Writes the staged state back into the run's SoftmaxState (a statistics run only read it) and frees the arena for the next run. */
  close(): void {
    running = false;
    if (this.layout.statistics) return;
    this.flush();
    const { f64 } = this.views;
    const { state, dv } = this;
    for (let r = 0, st = this.layout.state >> 3; r < this.block.rows; r++, st += 2 + dv) {
      state.max[r] = f64[st];
      state.sum[r] = f64[st + 1];
      state.acc.set(f64.subarray(st + 2, st + 2 + dv), r * dv);
    }
  }
}
