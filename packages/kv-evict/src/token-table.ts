import { InvalidConfigError } from '@kvkit/tensor-core';

/** A per-token state column a scorer keeps (accumulated attention, key norm, a window ring …). */
export interface ColumnSpec {
  name: string;
  /** Numbers per token (default 1). */
  width?: number;
}

interface HeadTable {
  count: number;
  tokenIds: Int32Array;
  columns: Map<string, Float64Array>;
}

/**
 * Host-side per-token state of one layer, per KV head, aligned with the token store's storage
 * order: token ids and the scorers' columns. Compacted together with the store, so index i always
 * describes the same token in both. Its bytes are reported as `statistics`.
 */
export class TokenTable {
  private readonly heads: HeadTable[] = [];
  private readonly widths = new Map<string, number>();

  constructor(
    readonly kvHeads: number,
    columns: readonly ColumnSpec[] = [],
  ) {
    for (const column of columns) this.widths.set(column.name, column.width ?? 1);
    for (let h = 0; h < kvHeads; h++) {
      this.heads.push({ count: 0, tokenIds: new Int32Array(16), columns: new Map([...this.widths].map(([name, w]) => [name, new Float64Array(16 * w)])) });
    }
  }

  count(head: number): number {
    return this.heads[head].count;
  }

  width(name: string): number {
    const w = this.widths.get(name);
    if (w === undefined) throw new InvalidConfigError(`token table: no column "${name}" (columns: ${[...this.widths.keys()].join(', ') || 'none'})`);
    return w;
  }

  /** The column's live values, [count, width] row-major (a view: valid until the next append/retain). */
  column(head: number, name: string): Float64Array {
    const w = this.width(name);
    const table = this.heads[head];
    return table.columns.get(name)!.subarray(0, table.count * w);
  }

  /** Token ids in storage order (−1 where the model gave none). */
  tokenIds(head: number): Int32Array {
    const table = this.heads[head];
    return table.tokenIds.subarray(0, table.count);
  }

  /** Adds n tokens to every head with zeroed columns. */
  append(n: number, tokenIds?: Int32Array): void {
    for (const table of this.heads) {
      const needed = table.count + n;
      if (needed > table.tokenIds.length) {
        let capacity = table.tokenIds.length;
        while (capacity < needed) capacity *= 2;
        const ids = new Int32Array(capacity);
        ids.set(table.tokenIds.subarray(0, table.count));
        table.tokenIds = ids;
        for (const [name, data] of table.columns) {
          const w = this.widths.get(name)!;
          const grown = new Float64Array(capacity * w);
          grown.set(data.subarray(0, table.count * w));
          table.columns.set(name, grown);
        }
      }
      if (tokenIds) table.tokenIds.set(tokenIds, table.count);
      else table.tokenIds.fill(-1, table.count, needed);
      for (const [name, data] of table.columns) {
        const w = this.widths.get(name)!;
        data.fill(0, table.count * w, needed * w);
      }
      table.count = needed;
    }
  }

  /** Keeps the rows at `keep` (strictly ascending, already checked by the store). */
  retain(head: number, keep: Int32Array): void {
    const table = this.heads[head];
    for (let i = 0; i < keep.length; i++) table.tokenIds[i] = table.tokenIds[keep[i]];
    for (const [name, data] of table.columns) {
      const w = this.widths.get(name)!;
      for (let i = 0; i < keep.length; i++) {
        if (keep[i] !== i) data.copyWithin(i * w, keep[i] * w, keep[i] * w + w);
      }
    }
    table.count = keep.length;
    // Give capacity back once more than half of it would stay empty, as the token store does.
    const capacity = table.tokenIds.length;
    if (capacity - keep.length > Math.max(16, keep.length)) {
      const shrunk = keep.length + Math.max(16, Math.ceil(keep.length / 8));
      table.tokenIds = table.tokenIds.slice(0, shrunk);
      for (const [name, data] of table.columns) table.columns.set(name, data.slice(0, shrunk * this.widths.get(name)!));
    }
  }

  /** Resident bytes: ids (4 B) and columns (8 B per number) of the tokens held, plus spare capacity. */
  bytes(): { statistics: number; reserved: number } {
    let perTokenBytes = 4;
    for (const w of this.widths.values()) perTokenBytes += 8 * w;
    let used = 0;
    let capacity = 0;
    for (const table of this.heads) {
      used += table.count;
      capacity += table.tokenIds.length;
    }
    return { statistics: used * perTokenBytes, reserved: (capacity - used) * perTokenBytes };
  }
}
