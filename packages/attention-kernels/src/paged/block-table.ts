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

/** A batch's block tables as the kernels read them (`maxPages` ≥ 1 so the table is never empty). */
export interface PackedBlockTables {
  /** i32 [batch, kvHeads, maxPages]: the pages of KV row b · kvHeads + head, in order. */
  pages: Int32Array;
  /** i32 [batch, kvHeads]: tokens of each KV row. */
  lengths: Int32Array;
  maxPages: number;
  /** The longest KV row (the width of per-key statistics). */
  maxLength: number;
}

/** Packs the block tables of a batch of requests (one per request, `kvHeads` rows each). */
export function packBlockTables(tables: readonly BlockTableView[], kvHeads: number): PackedBlockTables {
  let maxPages = 1;
  let maxLength = 0;
  for (const t of tables) {
    for (let h = 0; h < kvHeads; h++) {
      maxPages = Math.max(maxPages, t.headPages(h).length);
      maxLength = Math.max(maxLength, t.headLength(h));
    }
  }
  const pages = new Int32Array(tables.length * kvHeads * maxPages);
  const lengths = new Int32Array(tables.length * kvHeads);
  tables.forEach((t, b) => {
    for (let h = 0; h < kvHeads; h++) {
      const row = b * kvHeads + h;
      pages.set(t.headPages(h), row * maxPages);
      lengths[row] = t.headLength(h);
    }
  });
  return { pages, lengths, maxPages, maxLength };
}
