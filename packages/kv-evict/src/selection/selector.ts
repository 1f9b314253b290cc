import type { LayerSpec } from '@kvkit/tensor-core';
import type { TokenTable } from '../token-table.js';
import type { Protection } from './protection.js';
import { selectTopK } from './top-k.js';

/** Everything a selector may use to pick one head's tokens. */
export interface SelectionContext {
  head: number;
  /** Tokens the head may keep now (Infinity when the method has no budget). */
  budget: number;
  /** The scorer's scores (storage order); positions when the method has no scorer. */
  scores: Float64Array;
  positions: Int32Array;
  table: TokenTable;
  /** Tokens this layer has seen (fraction budgets and ratios are of this). */
  seen: number;
  phase: 'prefill' | 'decode';
}

/**
 * Which tokens a head keeps: returns strictly ascending storage indices, at most `budget` of them.
 * The default is protected tokens + top scores; FastGen, RazorAttention and ChunkKV bring their own.
 */
export interface HeadSelector {
  readonly name: string;
  select(context: SelectionContext): Int32Array;
  /** What the selector decided so far (FastGen's head policies, RazorAttention's retrieval heads). */
  describe?(): Record<string, unknown>;
}

export type SelectorFactory = (layer: LayerSpec) => HeadSelector;

export function topKSelector(protection: Protection): SelectorFactory {
  return () => ({
    name: 'top-k',
    select: (context) => selectTopK(context.scores, context.budget, protection),
  });
}
