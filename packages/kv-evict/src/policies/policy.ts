import type { LayerSpec } from '@kvkit/tensor-core';
import type { TokenStore } from '@kvkit/tensor-core';
import type { TokenTable } from '../token-table.js';

/** What a policy may look at and change when a head shrinks. */
export interface PolicyContext {
  store: TokenStore;
  table: TokenTable;
  /** The head's scores at this compression, in storage order (before it shrinks). */
  scores: Float64Array;
  phase: 'prefill' | 'decode';
}

/** Tokens a head attends besides its stored ones: a compensation token, a demoted tier. */
export interface ExtraKeys {
  /** Host rows [n, headDim]. */
  keys: Float32Array;
  values: Float32Array;
  positions: Int32Array;
  /** Log multiplicity per extra key (see `HeadKeys.logWeights`); absent = 0. */
  logWeights?: Float32Array;
}

/**
 * What happens to the tokens a selector did not keep: dropped (`evictPolicy`), moved to a cheaper
 * tier that attention still reads (`demotePolicy`, the MiKV hook), summarized into a compensation
 * token (RazorAttention), or merged into kept tokens (KVMerger, D2O, EMS). Every policy ends by
 * shrinking the store and the token table to `keep`.
 */
export interface CompressionPolicy {
  readonly name: string;
  /** Shrinks `head` to the storage indices `keep` (strictly ascending). */
  apply(head: number, keep: Int32Array, context: PolicyContext): void;
  /** Extra keys of `head` for attention, if the policy holds any. */
  extraKeys?(head: number): ExtraKeys | undefined;
  /** Resident bytes the policy holds by part. */
  memory?(): Record<string, number>;
  dispose?(): void;
}

export type PolicyFactory = (layer: LayerSpec) => CompressionPolicy;

/** Storage indices in [0, count) that are not in `keep`. */
export function droppedIndices(count: number, keep: Int32Array): Int32Array {
  const out = new Int32Array(count - keep.length);
  let k = 0;
  let j = 0;
  for (let i = 0; i < count; i++) {
    if (j < keep.length && keep[j] === i) j++;
    else out[k++] = i;
  }
  return out;
}

/** The last step of every policy: store and table keep the same rows. */
export function shrinkHead(head: number, keep: Int32Array, context: PolicyContext): void {
  context.store.retain(head, keep);
  context.table.retain(head, keep);
}
