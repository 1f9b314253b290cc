import { type Budget, resolveBudget } from '../budget.js';
import type { SelectorFactory } from '../selection/selector.js';
import type { RazorState } from './razor-state.js';

/**
 * RazorAttention's selection: retrieval heads keep everything; the others keep `sinks` first tokens
 * and the most recent ones up to `budget` tokens in all (the dropped ones go to the compensation token).
 * Before the retrieval heads are known every head keeps everything.
 */
export function razorSelector(state: RazorState, budget: Budget, sinks: number): SelectorFactory {
  return (layer) => ({
    name: 'razor',
    select: (context) => {
      const count = context.positions.length;
      const retrieval = state.isRetrieval(layer.layerIndex, context.head);
      const all = Int32Array.from({ length: count }, (_, i) => i);
      if (retrieval !== false) return all;
      const keep = resolveBudget(budget, context.seen);
      if (keep >= count) return all;
      const head = Math.min(sinks, keep);
      const tail = keep - head;
      return Int32Array.from([...all.subarray(0, head), ...all.subarray(count - tail)]);
    },
    describe: () => ({ retrievalHeads: Array.from({ length: layer.kvHeads }, (_, h) => state.isRetrieval(layer.layerIndex, h) ?? null) }),
  });
}
