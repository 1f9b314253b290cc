import { positiveInteger } from '../budget.js';
import type { TokenTable } from '../token-table.js';
import { type Pooling, pool1d, validatePooling } from './pooling.js';
import type { ScoringStep, TokenScorer } from './scorer.js';

export interface ObservationWindowOptions {
  /** Queries in the observation window (SnapKV: the last prompt tokens; kvpress uses 64). Default 32. */
  window?: number;
  /** Pooling kernel, odd (default 5, as kvpress). */
  kernel?: number;
  pooling?: Pooling;
}

/**
 * SnapKV's scorer (Li et al., 2024): the attention the last `window` queries pay each key, summed,
 * then pooled over neighbouring keys. The window is a ring of the last `window` query rows per token
 * (a `window`-wide column), so it keeps sliding while decoding: each new query replaces the oldest.
 */
export function observationWindowScorer(options: ObservationWindowOptions = {}): TokenScorer {
  const window = positiveInteger(options.window ?? 32, 'snapkv', 'observationWindow');
  const kernel = options.kernel ?? 5;
  const pooling = validatePooling(options.pooling ?? 'avg', kernel, 'snapkv');
  return {
    name: 'snapkv',
    columns: [{ name: 'window', width: window, dtype: 'f32' }],
    observation: (step) => {
      const rows = Math.min(window, step.queryPositions.length);
      return { rows, perRow: rows };
    },
    observe: (head, observation, table, step) => {
      writeRing(table, head, observation.perRow!, observation.perRowCount, window, ringSlot(step, observation.perRowCount));
    },
    scores: (head, table) => pool1d(windowSums(table, head, window), kernel, pooling),
  };
}

/** The absolute row index of the first of the last `count` rows of this call: row r goes to slot (that + r) mod width. */
export function ringSlot(step: ScoringStep, count: number): number {
  return step.rowsBefore + step.queryPositions.length - count;
}

/** Writes `count` rows ([count, n]) into ring slots (first + r) mod width. */
export function writeRing(table: TokenTable, head: number, rows: Float64Array, count: number, width: number, first: number): void {
  const ring = table.column(head, 'window');
  const n = ring.length / width;
  for (let r = 0; r < count; r++) {
    const slot = (first + r) % width;
    for (let j = 0; j < n; j++) ring[j * width + slot] = rows[r * n + j];
  }
}

/** Σ over the ring's slots per token. */
export function windowSums(table: TokenTable, head: number, width: number): Float64Array {
  const ring = table.column(head, 'window');
  const n = ring.length / width;
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let w = 0; w < width; w++) s += ring[j * width + w];
    out[j] = s;
  }
  return out;
}
