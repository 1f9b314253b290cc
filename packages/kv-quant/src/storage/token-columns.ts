/**
 * Host-side per-token bookkeeping of a mixed-precision store: positions and attention statistics,
 * one row per stored token (rows move with the tokens). Grows by doubling.
 */
export class TokenColumns {
  positions: Int32Array;
  attention: Float32Array;
  queries: Float32Array;
  private used = 0;

  constructor(capacity: number) {
    this.positions = new Int32Array(capacity);
    this.attention = new Float32Array(capacity);
    this.queries = new Float32Array(capacity);
  }

  get count(): number {
    return this.used;
  }

  get capacity(): number {
    return this.positions.length;
  }

  /** Bytes per row: position (4) + attention (4) + query count (4). */
  static readonly rowBytes = 12;

  push(position: number, attention = 0, queries = 0): void {
    if (this.used === this.capacity) this.reallocate(Math.max(1, 2 * this.capacity));
    this.positions[this.used] = position;
    this.attention[this.used] = attention;
    this.queries[this.used] = queries;
    this.used += 1;
  }

  swapRemove(i: number): void {
    const last = this.used - 1;
    this.positions[i] = this.positions[last];
    this.attention[i] = this.attention[last];
    this.queries[i] = this.queries[last];
    this.used = last;
  }

  dropFront(k: number): void {
    this.positions.copyWithin(0, k, this.used);
    this.attention.copyWithin(0, k, this.used);
    this.queries.copyWithin(0, k, this.used);
    this.used -= k;
  }

  /** Same policy as `RecordStore.shrink`: after a burst, keep twice the rows in use. */
  shrink(minimum: number): void {
    const target = Math.max(minimum, 2 * this.used);
    if (this.capacity <= 4 * Math.max(this.used, 1) || target >= this.capacity) return;
    this.reallocate(target);
  }

  private reallocate(capacity: number): void {
    for (const key of ['positions', 'attention', 'queries'] as const) {
      const next = new (this[key].constructor as Int32ArrayConstructor | Float32ArrayConstructor)(capacity);
      next.set(this[key].subarray(0, this.used));
      (this as Record<typeof key, Int32Array | Float32Array>)[key] = next;
    }
  }
}
