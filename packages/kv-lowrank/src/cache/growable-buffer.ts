import { type Backend, type DType, type Tensor, assign, bytesPerElement, cast, slice, zeros } from '@kvkit/tensor-core';

/**
 * A [heads, capacity, width] tensor that holds the first `length` rows of every head and doubles its
 * capacity when full, so decode steps do not reallocate. Appends are split in two so a cache layer
 * can make several buffers atomic: `reserve` (may allocate; on failure nothing changed) for all of
 * them, then `append` (never allocates).
 */
export class GrowableBuffer {
  private storage: Tensor;
  private used = 0;

  constructor(
    private readonly backend: Backend,
    readonly heads: number,
    readonly width: number,
    readonly dtype: DType,
    initialCapacity: number,
  ) {
    this.storage = zeros([heads, Math.max(1, initialCapacity), width], { dtype, backend });
  }

  get length(): number {
    return this.used;
  }

  get capacity(): number {
    return this.storage.shape[1];
  }

  /** Makes room for `total` rows per head, keeping the stored ones. */
  reserve(total: number): void {
    if (total <= this.capacity) return;
    let capacity = this.capacity;
    while (capacity < total) capacity *= 2;
    const grown = zeros([this.heads, capacity, this.width], { dtype: this.dtype, backend: this.backend });
    if (this.used > 0) {
      const from = this.view(0, this.used);
      const to = slice(grown, [0, 0, 0], [this.heads, this.used, this.width]);
      assign(to, from);
      from.dispose();
      to.dispose();
    }
    this.storage.dispose();
    this.storage = grown;
  }

  /** Appends [heads, n, width] rows (any float dtype; cast to the buffer's). Call `reserve` first. */
  append(rows: Tensor): void {
    const n = rows.shape[1];
    this.reserve(this.used + n);
    const source = rows.dtype === this.dtype ? rows : cast(rows, this.dtype);
    const target = slice(this.storage, [0, this.used, 0], [this.heads, this.used + n, this.width]);
    try {
      assign(target, source);
    } finally {
      target.dispose();
      if (source !== rows) source.dispose();
    }
    this.used += n;
  }

  /** Forgets every row from `length` on (rolls back an append). */
  truncate(length: number): void {
    this.used = Math.min(this.used, length);
  }

  /** A view of rows [start, end) of every head (dispose it). */
  view(start = 0, end = this.used): Tensor {
    return slice(this.storage, [0, start, 0], [this.heads, end, this.width]);
  }

  /** Bytes holding rows, and bytes allocated but empty. */
  bytes(): { used: number; reserved: number } {
    const row = this.heads * this.width * bytesPerElement(this.dtype);
    return { used: row * this.used, reserved: row * (this.capacity - this.used) };
  }

  dispose(): void {
    this.storage.dispose();
  }
}
