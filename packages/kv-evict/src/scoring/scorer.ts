import type { LayerSpec } from '@kvkit/tensor-core';
import type { ObservationRequest } from '../attend/attend-heads.js';
import type { ColumnSpec, TokenTable } from '../token-table.js';

/** One attend call, as a scorer sees it. */
export interface ScoringStep {
  phase: 'prefill' | 'decode';
  /** Positions of the call's queries. */
  queryPositions: Int32Array;
}

/** What a KV head's query group paid its keys over the observed rows, reduced over the group (mean or max). */
export interface KeyObservation {
  rows: number;
  /** [n]: Σ over observed rows of weight · p(row → key). */
  sum: Float64Array;
  /** [n]: max over observed rows. */
  max: Float64Array;
  /** [perRowCount, n]: the last observed rows one by one. */
  perRow?: Float64Array;
  perRowCount: number;
}

/**
 * What a token is worth (higher = keep). A scorer keeps its per-token state in token-table columns,
 * so eviction compacts it with the tokens, and asks the attention seam for the statistics it needs
 * in each attend call (`observation`). Scorers are per layer; `scores` is called for one KV head.
 */
export interface TokenScorer {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
  /** Whether `onAppend` needs the appended keys as host numbers (key-norm scoring). */
  readonly needsKeys?: boolean;
  /** The statistics to gather in this attend call; undefined = none (attention-free scorers). */
  observation(step: ScoringStep): ObservationRequest | undefined;
  /** n tokens were appended at storage indices [first, first + n); `keys` is [n, headDim] for this head. */
  onAppend?(head: number, first: number, n: number, table: TokenTable, keys?: Float32Array): void;
  /** Folds one attend call's observation of `head` into the state. Covers every stored token (`positions`). */
  observe?(head: number, observation: KeyObservation, table: TokenTable, step: ScoringStep, positions: Int32Array): void;
  /**
   * The number of most recent queries whose attention this scorer reads at compression time
   * (SnapKV's observation window). The layer keeps those queries and passes their summed attention
   * over the current keys to `scores` as `window`.
   */
  readonly queryWindow?: number;
  /** One score per stored token of `head`, in storage order. */
  scores(head: number, table: TokenTable, positions: Int32Array, window?: Float64Array): Float64Array;
}

/** Makes a layer's scorer. */
export type ScorerFactory = (layer: LayerSpec) => TokenScorer;
