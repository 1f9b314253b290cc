import type { Backend, DType, Tensor } from '@kvkit/tensor-core';
import { RowBuffer } from './row-buffer.js';

/** One field of a stored record: its dtype, per-row width and the memory part it counts under. */
export interface FieldSpec {
  name: string;
  dtype: DType;
  /** Elements per row and leading index (the trailing dims). */
  inner: readonly number[];
  /** MemoryReport part: codes, scales, zeros, outliers, window, sinks … */
  part: string;
}

export type RecordTensors = Record<string, Tensor>;

/**
 * Rows of records that share one count (a token's codes, scales, zeros and outliers; or one
 * group's), each field in its own preallocated `RowBuffer` of shape [...lead, capacity, ...inner].
 */
export class RecordStore {
  private readonly buffers = new Map<string, RowBuffer>();
  private readonly parts = new Map<string, string>();
  private used = 0;

  constructor(backend: Backend, lead: readonly number[], fields: readonly FieldSpec[], capacity: number) {
    for (const f of fields) {
      this.buffers.set(f.name, new RowBuffer(backend, f.dtype, lead, f.inner, capacity));
      this.parts.set(f.name, f.part);
    }
  }

  get count(): number {
    return this.used;
  }

  get capacity(): number {
    return this.buffers.values().next().value?.capacity ?? 0;
  }

  buffer(name: string): RowBuffer {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`record store has no field "${name}"`);
    return b;
  }

  /** Makes room for `extra` more rows (growing by doubling; contents kept). */
  reserve(extra: number): void {
    for (const b of this.buffers.values()) b.reserve(this.used + extra, this.used);
  }

  /**
   * Gives back capacity after a burst (a prefill that waited in a window): when fewer than a
   * quarter of the rows are used, shrinks to twice the rows in use (at least `minimum`).
   */
  shrink(minimum: number): void {
    const target = Math.max(minimum, 2 * this.used);
    if (this.capacity <= 4 * Math.max(this.used, 1) || target >= this.capacity) return;
    for (const b of this.buffers.values()) b.resize(target, this.used);
  }

  /** Appends rows (every field, same row count); call `reserve` first. */
  append(record: RecordTensors, rows: number): void {
    for (const [name, b] of this.buffers) b.write(this.used, record[name]);
    this.used += rows;
  }

  /** Overwrites row `row` (< count) of every field with a one-row record. */
  writeRow(row: number, record: RecordTensors): void {
    for (const [name, b] of this.buffers) b.write(row, record[name]);
  }

  /**
   * Keeps the rows at `index` (an i32 tensor of ascending row numbers), moved to the front in that
   * order, in buffers of `capacity` rows: every field is gathered before any buffer changes.
   */
  keepRows(index: Tensor, capacity: number): void {
    const kept = index.shape[0];
    const picked = new Map<string, Tensor>();
    try {
      if (kept > 0) for (const [name, b] of this.buffers) picked.set(name, b.gatherRows(index, this.used));
      for (const [name, b] of this.buffers) {
        const rows = picked.get(name);
        if (rows) b.replaceRows(rows, capacity);
        else if (capacity !== b.capacity) b.resize(capacity, 0);
      }
    } finally {
      for (const t of picked.values()) t.dispose();
    }
    this.used = kept;
  }

  /** Views of rows [start, end) of every field (dispose with `disposeRecord`). */
  view(start = 0, end = this.used): RecordTensors {
    const out: RecordTensors = {};
    for (const [name, b] of this.buffers) out[name] = b.rows(start, end);
    return out;
  }

  /** Drops the first `k` rows, moving the rest to the front (sliding windows). */
  dropFront(k: number): void {
    if (k <= 0) return;
    for (const b of this.buffers.values()) b.moveRows(k, 0, this.used - k);
    this.used -= k;
  }

  /** Removes row `i` by moving the last row into its place (order is not kept). */
  swapRemove(i: number): void {
    const last = this.used - 1;
    if (i !== last) for (const b of this.buffers.values()) b.moveRows(last, i, 1);
    this.used = last;
  }

  /** Resident bytes of the stored rows by part, and of the unused capacity as `reserved`. */
  memory(): Record<string, number> {
    const out: Record<string, number> = { reserved: 0 };
    for (const [name, b] of this.buffers) {
      const part = this.parts.get(name)!;
      out[part] = (out[part] ?? 0) + b.bytesPerRow * this.used;
      out.reserved += b.bytesPerRow * (b.capacity - this.used);
    }
    return out;
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
  }
}

export function disposeRecord(record: RecordTensors): void {
  for (const t of Object.values(record)) t.dispose();
}

/** Adds `b`'s byte counts into `a` (part by part). */
export function addParts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
  return a;
}
