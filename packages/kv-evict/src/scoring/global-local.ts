import { positiveInteger } from '../budget.js';
import type { TokenScorer } from './scorer.js';

/**
 * EMS's Global-Local score (Li et al., 2024). Global: the attention a token received from every query
 * that could see it, divided by how many could (accumulated attention without the bias toward old
 * tokens that causal masking gives). Local: the attention of the last `window` queries (a sliding
 * window, recomputed at each compression as SnapKV's). Each part is normalized to sum 1 over the head's tokens and the two are added.
 */
export function globalLocalScorer(options: { window?: number } = {}): TokenScorer {
  const window = positiveInteger(options.window ?? 32, 'ems', 'window');
  return {
    name: 'global-local',
    columns: [{ name: 'accumulated' }, { name: 'observers' }],
    queryWindow: window,
    observation: (step) => ({ rows: step.queryPositions.length }),
    observe: (head, observation, table, step, positions) => {
      const acc = table.column(head, 'accumulated');
      const observers = table.column(head, 'observers');
      for (let j = 0; j < acc.length; j++) acc[j] += observation.sum[j];
      countObservers(observers, step.queryPositions, positions);
    },
    scores: (head, table, positions, local) => {
      const acc = table.column(head, 'accumulated');
      const observers = table.column(head, 'observers');
      const global = new Float64Array(acc.length);
      for (let j = 0; j < acc.length; j++) global[j] = observers[j] > 0 ? acc[j] / observers[j] : 0;
      return addNormalized(global, local ?? new Float64Array(positions.length));
    },
  };
}

/** observers[j] += how many of the queries may see token j under the causal mask (query position ≥ key position). */
function countObservers(observers: Float64Array, queryPositions: Int32Array, keyPositions: Int32Array): void {
  const sorted = Int32Array.from(queryPositions).sort();
  for (let j = 0; j < keyPositions.length; j++) {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < keyPositions[j]) lo = mid + 1;
      else hi = mid;
    }
    observers[j] += sorted.length - lo;
  }
}

/** a/Σa + b/Σb (a part that sums to 0 adds nothing). */
export function addNormalized(a: Float64Array, b: Float64Array): Float64Array {
  const sa = a.reduce((s, x) => s + x, 0);
  const sb = b.reduce((s, x) => s + x, 0);
  return a.map((x, j) => (sa > 0 ? x / sa : 0) + (sb > 0 ? b[j] / sb : 0));
}
