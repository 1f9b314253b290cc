import { positiveInteger } from '../budget.js';
import { type Pooling, pool1d, validatePooling } from './pooling.js';
import type { TokenScorer } from './scorer.js';

export interface ObservationWindowOptions {
  /** Queries in the observation window (SnapKV: the last prompt tokens; kvpress uses 64). Default 32. */
  window?: number;
  /** Pooling kernel, odd (default 5, as kvpress). */
  kernel?: number;
  pooling?: Pooling;
}

/**
 * SnapKV's scorer (Li et al., 2024): the attention the last `window` queries pay each key, summed,
 * then pooled over neighbouring keys. The layer keeps those queries (`queryWindow`) and recomputes
 * their attention over the keys it holds at each compression, so the window slides while decoding.
 */
export function observationWindowScorer(options: ObservationWindowOptions = {}): TokenScorer {
  const window = positiveInteger(options.window ?? 32, 'snapkv', 'observationWindow');
  const kernel = options.kernel ?? 5;
  const pooling = validatePooling(options.pooling ?? 'avg', kernel, 'snapkv');
  return {
    name: 'snapkv',
    columns: [],
    queryWindow: window,
    observation: () => undefined,
    scores: (_head, _table, positions, windowSums) => pool1d(windowSums ?? new Float64Array(positions.length), kernel, pooling),
  };
}
