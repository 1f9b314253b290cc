import type { PagedKVPool } from './page-pool.js';

/**
 * What the paged kernels read: for each KV head, the pages of a pool holding its tokens in order
 * and how many tokens it has. Heads may differ in length (head-wise eviction).
 */
export interface BlockTableView {
  readonly pool: PagedKVPool;
  readonly kvHeads: number;
  headPages(head: number): ArrayLike<number>;
  headLength(head: number): number;
}

/** Grows an Int32Array to at least `needed` entries, keeping its first `keep` values. */
export function ensureCapacity(array: Int32Array, needed: number, keep: number): Int32Array {
  if (needed <= array.length) return array;
  const grown = new Int32Array(Math.max(needed, array.length * 2, 8));
  grown.set(array.subarray(0, keep));
  return grown;
}
