import type { TokenScorer } from '../scoring/scorer.js';
import { echoInduction } from './retrieval-heads.js';
import type { RazorState } from './razor-state.js';

/**
 * Measures echo and induction scores on the prompt itself (the in-context probe, when no probe
 * profile is given): during the first prefill call each query whose token appeared earlier is a
 * probe. Needs token ids in `StepInfo`. Scores for selection are recency (Razor keeps windows).
 */
export function retrievalProbeScorer(state: RazorState, layerIndex: number): TokenScorer {
  let probed = false;
  return {
    name: 'retrieval-probe',
    columns: [],
    observation: (step) => (!probed && !state.decided && step.phase === 'prefill' ? { rows: step.queryPositions.length, perRow: step.queryPositions.length } : undefined),
    observe: (head, observation, table, _step, positions) => {
      if (!observation.perRow) return;
      const n = positions.length;
      const m = observation.perRowCount;
      const queryIndex = Int32Array.from({ length: m }, (_, i) => n - m + i); // the call's queries are its appended tokens
      state.record(layerIndex, head, echoInduction(observation.perRow, m, n, queryIndex, table.tokenIds(head)));
      if (head === table.kvHeads - 1) probed = true;
    },
    scores: (_head, _table, positions) => Float64Array.from(positions),
  };
}
