import { assign, type Backend, bytesPerElement, cast, contiguous, type DType, gather, slice, type Tensor, zeros } from '@kvkit/tensor-core';

/**
 * A preallocated tensor [...lead, capacity, ...inner] that holds rows along one axis and grows by
 * doubling (so decode steps do not reallocate). Only the first `used` rows (tracked by the owner)
 * hold data; the rest is reserved capacity.
 */
export class RowBuffer {
  private storage: Tensor;
  private readonly axis: number;

  constructor(
    private readonly backend: Backend,
    readonly dtype: DType,
    readonly lead: readonly number[],
    readonly inner: readonly number[],
    capacity: number
  ) {
    this.axis = lead.length;
    this.storage = zeros([...lead, capacity, ...inner], { dtype, backend });
  }

  get capacity(): number {
    return this.storage.shape[this.axis];
  }

  /** The whole buffer, capacity included (for views such as KiviCacheView). */
  get tensor(): Tensor {
    return this.storage;
  }

  /** Bytes of one row across the leading axes. */
  get bytesPerRow(): number {
    let n = bytesPerElement(this.dtype);
    for (const d of [...this.lead, ...this.inner]) n *= d;
    return n;
  }

  /** A view of rows [start, end) (dispose it after use). */
  rows(start: number, end: number): Tensor {
    const starts = this.storage.shape.map((_, i) => (i === this.axis ? start : 0));
    const ends = this.storage.shape.map((d, i) => (i === this.axis ? end : d));
    return slice(this.storage, starts, ends);
  }

  /** Writes `source` ([...lead, n, ...inner], any float dtype for float buffers) at row `start`. */
  write(start: number, source: Tensor): void {
    const n = source.shape[this.axis];
    if (n === 0) return;
    const input = source.dtype === this.dtype ? source : cast(source, this.dtype);
    const target = this.rows(start, start + n);
    try {
      assign(target, input);
    } finally {
      target.dispose();
      if (input !== source) input.dispose();
    }
  }

  /** Copies rows [from, from + count) to [to, to + count) (through a copy, so ranges may overlap). */
  moveRows(from: number, to: number, count: number): void {
    if (count === 0 || from === to) return;
    const view = this.rows(from, from + count);
    const copy = contiguous(view);
    view.dispose();
    try {
      this.write(to, copy);
    } finally {
      copy.dispose();
    }
  }

  /** A new tensor of the rows at `index` (i32 row numbers below `used`), in that order. */
  gatherRows(index: Tensor, used: number): Tensor {
    const stored = this.rows(0, used);
    try {
      return gather(stored, index, this.axis);
    } finally {
      stored.dispose();
    }
  }

  /** Makes `rows` the first rows of a buffer of `capacity` rows (reallocated when the capacity changes). */
  replaceRows(rows: Tensor, capacity: number): void {
    if (capacity !== this.capacity) {
      const next = zeros([...this.lead, capacity, ...this.inner], { dtype: this.dtype, backend: this.backend });
      this.storage.dispose();
      this.storage = next;
    }
    this.write(0, rows);
  }

  /** Grows (doubling) until `needed` rows fit, keeping the first `used` rows. */
  reserve(needed: number, used: number): void {
    if (needed <= this.capacity) return;
    let capacity = Math.max(1, this.capacity);
    while (capacity < needed) capacity *= 2;
    this.resize(capacity, used);
  }

  /** Reallocates to exactly `capacity` rows (≥ used), keeping the first `used` rows. */
  resize(capacity: number, used: number): void {
    const next = zeros([...this.lead, capacity, ...this.inner], { dtype: this.dtype, backend: this.backend });
    if (used > 0) {
      const src = this.rows(0, used);
      const starts = next.shape.map(() => 0);
      const ends = next.shape.map((d, i) => (i === this.axis ? used : d));
      const dst = slice(next, starts, ends);
      assign(dst, src);
      src.dispose();
      dst.dispose();
    }
    this.storage.dispose();
    this.storage = next;
  }

  dispose(): void {
    this.storage.dispose();
  }
}
