import {
  assign,
  type Backend,
  bytesPerElement,
  cpuBackend,
  DisposedError,
  IndexOutOfRangeError,
  InvalidConfigError,
  type MemoryReport,
  memoryReport,
  OutOfMemoryError,
  runKernel,
  slice,
  type Tensor,
  zeros,
} from '@kvkit/tensor-core';
import { ensureAttentionKernels } from '../kernels.js';
import { MinHeap } from './min-heap.js';

export interface PagedKVPoolOptions {
  /** Key dimension of a token row. */
  headDim: number;
  /** Value dimension (default headDim). */
  valueDim?: number;
  /**
   * The values are the keys (DeepSeek's latent attention, `LayerSpec.valuesAreKeys`): the pool keeps
   * one copy, `storage()` hands the key pages out as the values too, and `write` ignores its v.
   */
  valuesAreKeys?: boolean;
  /** Tokens per page (default 16). */
  pageSize?: number;
  /** Storage dtype (default f16, what a GPU runtime keeps; f32 for exact runs). */
  dtype?: 'f32' | 'f16';
  /** Pages allocated up front (default 64); storage doubles when more are needed. */
  initialPages?: number;
  /** Hard limit: allocating beyond it throws OUT_OF_MEMORY (default: unlimited). */
  maxPages?: number;
  /** Release free capacity automatically when more than half the pool is free (default true). */
  autoTrim?: boolean;
  backend?: Backend;
}

/**
 * A pool of fixed-size KV pages (PagedAttention/vAttention): keys [capacity, pageSize, headDim],
 * values [capacity, pageSize, valueDim] and token positions [capacity, pageSize] in three buffers,
 * with a free list. A page holds `pageSize` tokens of ONE KV head, so each head of each request
 * has its own block table and heads can keep different numbers of tokens (head-wise eviction budgets
 * really free pages). The lowest free page is handed out first, so the used pages stay at the
 * bottom and `trim()` can give the top back.
 */
export class PagedKVPool {
  readonly headDim: number;
  readonly valueDim: number;
  readonly pageSize: number;
  readonly dtype: 'f32' | 'f16';
  readonly maxPages: number;
  readonly autoTrim: boolean;
  readonly backend: Backend;
  readonly valuesAreKeys: boolean;
  private readonly initialPages: number;
  private keyPages: Tensor;
  /** Zero channels wide where the values are the keys: the kernels then write and move none. */
  private valuePages: Tensor;
  private positionPages: Tensor;
  private readonly free = new MinHeap();
  private used: Uint8Array;
  private inUse = 0;
  private disposed = false;

  constructor(options: PagedKVPoolOptions) {
    const where = 'PagedKVPool';
    const int = (value: number | undefined, fallback: number, name: string) => {
      const x = value ?? fallback;
      if (!Number.isInteger(x) || x < 1) throw new InvalidConfigError(`${where}: ${name} must be a positive integer, got ${value}`);
      return x;
    };
    this.headDim = int(options.headDim, 0, 'headDim');
    this.valueDim = int(options.valueDim, this.headDim, 'valueDim');
    this.valuesAreKeys = options.valuesAreKeys === true;
    if (this.valuesAreKeys && this.valueDim !== this.headDim) throw new InvalidConfigError(`${where}: values that are the keys need valueDim = headDim (${this.headDim}), got ${this.valueDim}`);
    this.pageSize = int(options.pageSize, 16, 'pageSize');
    this.initialPages = int(options.initialPages, 64, 'initialPages');
    this.maxPages = options.maxPages === undefined ? Infinity : int(options.maxPages, 1, 'maxPages');
    this.dtype = options.dtype ?? 'f16';
    if (this.dtype !== 'f32' && this.dtype !== 'f16') throw new InvalidConfigError(`${where}: dtype must be f32 or f16, got ${options.dtype}`);
    this.autoTrim = options.autoTrim ?? true;
    this.backend = options.backend ?? cpuBackend();
    const capacity = Math.min(this.initialPages, this.maxPages);
    [this.keyPages, this.valuePages, this.positionPages] = this.buffers(capacity);
    this.used = new Uint8Array(capacity);
    for (let p = 0; p < capacity; p++) this.free.push(p);
  }

  /** Pages the buffers can hold now. */
  get capacity(): number {
    return this.used.length;
  }

  get pagesInUse(): number {
    return this.inUse;
  }

  get freePages(): number {
    return this.capacity - this.inUse;
  }

  /** Bytes of one page: keys, values (none of their own where they are the keys) and positions of `pageSize` tokens. */
  get pageBytes(): number {
    return this.pageSize * ((this.headDim + this.storedValueDim) * bytesPerElement(this.dtype) + 4);
  }

  /** The value channels the pool stores itself: 0 where the values are the keys. */
  private get storedValueDim(): number {
    return this.valuesAreKeys ? 0 : this.valueDim;
  }

  /** The storage tensors, for kernels: keys [capacity, P, d], values [capacity, P, dv], positions i32 [capacity, P]. */
  storage(): { keys: Tensor; values: Tensor; positions: Tensor } {
    this.assertAlive();
    return { keys: this.keyPages, values: this.valuesAreKeys ? this.keyPages : this.valuePages, positions: this.positionPages };
  }

  /**
   * `count` pages, all or none: grows the buffers (doubling) when the free list runs short, and
   * throws OUT_OF_MEMORY, with nothing changed, when `maxPages` would be exceeded.
   */
  allocate(count: number): Int32Array {
    this.assertAlive();
    if (!Number.isInteger(count) || count < 0) throw new InvalidConfigError(`PagedKVPool.allocate: count must be a non-negative integer, got ${count}`);
    if (this.inUse + count > this.maxPages) {
      throw new OutOfMemoryError(`PagedKVPool: ${count} more pages needed, ${this.inUse} of at most ${this.maxPages} are in use`, {
        requested: count,
        inUse: this.inUse,
        maxPages: this.maxPages,
      });
    }
    if (this.free.size < count) {
      let capacity = Math.max(1, this.capacity);
      while (capacity - this.inUse < count) capacity *= 2;
      this.resize(Math.min(capacity, this.maxPages));
    }
    const pages = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const p = this.free.pop();
      this.used[p] = 1;
      pages[i] = p;
    }
    this.inUse += count;
    return pages;
  }

  /** Returns pages to the free list (their contents become garbage). Double frees are refused. */
  release(pages: ArrayLike<number>): void {
    this.assertAlive();
    const seen = new Set<number>();
    for (let i = 0; i < pages.length; i++) {
      const p = pages[i];
      if (!Number.isInteger(p) || p < 0 || p >= this.capacity || !this.used[p] || seen.has(p)) {
        throw new IndexOutOfRangeError(`PagedKVPool.release: page ${p} is not an allocated page`, { page: p });
      }
      seen.add(p);
    }
    for (const p of seen) {
      this.used[p] = 0;
      this.free.push(p);
    }
    this.inUse -= seen.size;
    if (this.autoTrim && this.capacity > this.initialPages && this.freePages > this.capacity / 2) this.trim();
  }

  /**
   * Writes token rows into slots (slot = page · pageSize + offset): k [rows, headDim], v [rows,
   * valueDim] (cast to the pool dtype), positions and slots i32 [rows]. In place.
   */
  write(k: Tensor, v: Tensor, positions: Tensor, slots: Tensor): void {
    this.assertAlive();
    ensureAttentionKernels(this.backend);
    runKernel('pagedWrite', [this.keyPages, this.valuePages, this.positionPages, k, v, positions, slots], {});
  }

  /** Copies slot from[i] to slot to[i], for i in order (each copy sees the earlier ones). In place. */
  move(from: Tensor, to: Tensor): void {
    this.assertAlive();
    ensureAttentionKernels(this.backend);
    runKernel('pagedMove', [this.keyPages, this.valuePages, this.positionPages, from, to], {});
  }

  /** Gives back the free pages above the highest page in use (the buffers shrink; ids stay valid). */
  trim(): void {
    this.assertAlive();
    let top = this.capacity - 1;
    while (top >= 0 && !this.used[top]) top--;
    const capacity = Math.max(top + 1, Math.min(this.initialPages, this.maxPages));
    if (capacity < this.capacity) this.resize(capacity);
  }

  /** Resident bytes: pages in use as keys/values/positions, free pages as reserved. */
  memory(): MemoryReport {
    const b = bytesPerElement(this.dtype) * this.pageSize;
    return memoryReport(
      {
        keys: this.inUse * b * this.headDim,
        values: this.inUse * b * this.storedValueDim,
        positions: this.inUse * this.pageSize * 4,
        reserved: this.freePages * this.pageBytes,
      },
      0,
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.keyPages.dispose();
    this.valuePages.dispose();
    this.positionPages.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private buffers(capacity: number): [Tensor, Tensor, Tensor] {
    const options = { dtype: this.dtype, backend: this.backend };
    return [
      zeros([capacity, this.pageSize, this.headDim], options),
      zeros([capacity, this.pageSize, this.storedValueDim], options),
      zeros([capacity, this.pageSize], { dtype: 'i32', backend: this.backend }),
    ];
  }

  /** New buffers of `capacity` pages holding the first min(old, new) pages; page ids are unchanged. */
  private resize(capacity: number): void {
    const next = this.buffers(capacity);
    const keep = Math.min(capacity, this.capacity);
    const old = [this.keyPages, this.valuePages, this.positionPages];
    for (let i = 0; i < 3; i++) {
      // A zero-width value buffer (values that are the keys) has nothing to copy.
      if (old[i].size === 0 || next[i].size === 0) {
        old[i].dispose();
        continue;
      }
      const src = slice(old[i], [0], [keep]);
      const dst = slice(next[i], [0], [keep]);
      assign(dst, src);
      src.dispose();
      dst.dispose();
      old[i].dispose();
    }
    [this.keyPages, this.valuePages, this.positionPages] = next;
    const used = new Uint8Array(capacity);
    used.set(this.used.subarray(0, keep));
    if (capacity > this.capacity) for (let p = this.capacity; p < capacity; p++) this.free.push(p);
    else this.free.dropFrom(capacity);
    this.used = used;
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError('PagedKVPool');
  }
}
