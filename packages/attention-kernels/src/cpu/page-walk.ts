import type { Tensor } from '@kvkit/tensor-core';
import type { KernelAttrs } from '../ops/attention-types.js';
import { type HostFloats, hostFloats, hostInts } from './host-data.js';
import type { StatisticsCollector } from './kernel-io.js';
import type { SoftmaxState } from './online-softmax.js';
import { statisticsRanges, type TileScratch } from './tile-loop.js';
import type { DenseRowSource, QueryBlock } from './tile-source.js';

/**
 * A page pool's host rows read through a block table i32 [rows, kvHeads, maxPages] (the paged
 * kernel's tables, a prefix request's own chunks or its whole path): binds a row source to the
 * pages of one KV row, in order.
 */
export class PageWalker {
  private readonly keys: HostFloats;
  private readonly values: HostFloats;
  readonly positions: Int32Array;
  private readonly table: Int32Array;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly d: number;
  private readonly dv: number;

  /** `table` may be absent when only single pages are bound (`bindPage`). */
  constructor(
    readonly source: DenseRowSource,
    poolKeys: Tensor,
    poolValues: Tensor,
    poolPositions: Tensor,
    table?: Tensor,
  ) {
    this.keys = hostFloats(poolKeys);
    this.values = hostFloats(poolValues);
    this.positions = hostInts(poolPositions);
    [, this.pageSize, this.d] = poolKeys.shape;
    this.dv = poolValues.shape[2];
    this.table = table ? hostInts(table) : new Int32Array(0);
    this.maxPages = table ? table.shape[2] : 0;
  }

  /** Binds the source to pool page `page`: its token t is the page's slot t. */
  bindPage(page: number): void {
    const P = this.pageSize;
    this.source.bind(this.keys, page * P * this.d, this.values, page * P * this.dv, this.positions, page * P);
  }

  /**
   * Calls `body(start, count)` for each run of consecutive pool pages of KV row `row` (b · kvHeads +
   * head) holding `length` tokens, with the source bound to the run's first page: its tokens are
   * keys [start, start + count) of the row.
   */
  walk(row: number, length: number, body: (start: number, count: number) => void): void {
    const P = this.pageSize;
    const pages = Math.ceil(length / P);
    const at = row * this.maxPages;
    // Pages that follow each other in the pool (a prefill's, allocated together) are one run of rows: one call for them all.
    for (let p = 0; p < pages; ) {
      const first = this.table[at + p];
      let next = p + 1;
      while (next < pages && this.table[at + next] === first + (next - p)) next++;
      this.bindPage(first);
      body(p * P, Math.min(next * P, length) - p * P);
      p = next;
    }
  }

  /**
   * The statistics pass over KV row `row` for the query rows of `block`, given their final softmax
   * state (every key of the row already folded in): key j of the row goes to statistics column j.
   */
  statistics(row: number, length: number, block: QueryBlock, state: SoftmaxState, attrs: KernelAttrs, stats: StatisticsCollector, scratch: TileScratch): void {
    statisticsRanges(this.source, block, state, attrs, stats, scratch, (visit) => this.walk(row, length, (start, count) => visit(0, count, start)));
  }

  /** How many of the request's contributing queries (positions `qPos[posBase …]`, m of them) see each key of KV row `row`. */
  countQueries(row: number, length: number, qPos: Int32Array, posBase: number, m: number, attrs: KernelAttrs, stats: StatisticsCollector): void {
    this.walk(row, length, (start, count) => stats.countQueries(row, qPos, posBase, m, this.positions, this.source.positionBase, start, count, attrs.statistics, attrs));
  }
}
