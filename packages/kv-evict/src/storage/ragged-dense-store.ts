import {
  assign,
  type Backend,
  bytesPerElement,
  cast,
  DisposedError,
  gather,
  IndexOutOfRangeError,
  InvalidConfigError,
  reshape,
  ShapeMismatchError,
  validateKeepIndices,
  slice,
  type Tensor,
  tensor,
  zeros,
} from '@kvkit/tensor-core';
import type { HeadView, StoreSpec, TokenStore, TokenStoreFactory } from '@kvkit/tensor-core';

export interface RaggedDenseStoreOptions {
  /** Storage dtype of K and V: f16 (default, what a GPU runtime keeps) or f32 for exact reference runs. */
  dtype?: 'f16' | 'f32';
  /** Tokens per head allocated at first use and kept as headroom after a shrink (default 16). */
  minCapacity?: number;
}

/** The default store: dense K/V per KV head, compacted after eviction, capacity shrunk when mostly empty. */
export function raggedDenseStore(options: RaggedDenseStoreOptions = {}): TokenStoreFactory {
  const dtype = options.dtype ?? 'f16';
  const minCapacity = options.minCapacity ?? 16;
  if (dtype !== 'f16' && dtype !== 'f32') throw new InvalidConfigError(`raggedDenseStore: dtype must be f16 or f32, got ${dtype}`);
  if (!Number.isInteger(minCapacity) || minCapacity < 1) throw new InvalidConfigError(`raggedDenseStore: minCapacity must be an integer >= 1, got ${minCapacity}`);
  return (spec) => new RaggedDenseStore(spec, dtype, minCapacity);
}

interface HeadBuffers {
  keys: Tensor;
  values: Tensor;
  positions: Int32Array;
  count: number;
}

/**
 * Each KV head owns a [capacity, headDim] key buffer and value buffer on the backend, plus host
 * positions. Eviction compacts a head in place (kept tokens move to the front in their order) and
 * shrinks its buffers when more than half would stay empty, so `memory()` falls with the evicted
 * tokens; unused capacity is reported as `reserved`.
 */
export class RaggedDenseStore implements TokenStore {
  readonly kvHeads: number;
  readonly headDim: number;
  private readonly backend: Backend;
  private readonly heads: HeadBuffers[] = [];
  private disposed = false;

  constructor(
    spec: StoreSpec,
    readonly dtype: 'f16' | 'f32',
    private readonly minCapacity: number,
  ) {
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.backend = spec.backend;
    for (let h = 0; h < this.kvHeads; h++) this.heads.push(this.allocate(0));
  }

  count(head: number): number {
    return this.head(head).count;
  }

  positions(head: number): Int32Array {
    const buffers = this.head(head);
    return buffers.positions.subarray(0, buffers.count);
  }

  /** Allocated token slots of a head. */
  capacity(head: number): number {
    return this.head(head).positions.length;
  }

  append(keys: Tensor, values: Tensor, positions: Int32Array): void {
    this.assertAlive();
    const n = positions.length;
    for (const [name, t] of [['keys', keys], ['values', values]] as const) {
      if (t.rank !== 3 || t.shape[0] !== this.kvHeads || t.shape[1] !== n || t.shape[2] !== this.headDim) {
        throw new ShapeMismatchError(`ragged store append: ${name} must be [${this.kvHeads}, ${n}, ${this.headDim}], got [${t.shape.join(', ')}]`);
      }
    }
    if (n === 0) return;
    const k = keys.dtype === this.dtype ? keys : cast(keys, this.dtype);
    const v = values.dtype === this.dtype ? values : cast(values, this.dtype);
    // Grow every head that needs it before touching any: a failed allocation leaves the store as it was.
    const grown: (HeadBuffers | undefined)[] = [];
    try {
      for (const buffers of this.heads) grown.push(buffers.count + n > buffers.positions.length ? this.grownCopy(buffers, buffers.count + n) : undefined);
    } catch (error) {
      for (const g of grown) if (g) this.release(g);
      if (k !== keys) k.dispose();
      if (v !== values) v.dispose();
      throw error;
    }
    try {
      for (let h = 0; h < this.kvHeads; h++) {
        if (grown[h]) {
          this.release(this.heads[h]);
          this.heads[h] = grown[h]!;
        }
        const buffers = this.heads[h];
        this.writeRows(buffers.keys, buffers.count, k, h);
        this.writeRows(buffers.values, buffers.count, v, h);
        buffers.positions.set(positions, buffers.count);
      }
      for (const buffers of this.heads) buffers.count += n;
    } finally {
      if (k !== keys) k.dispose();
      if (v !== values) v.dispose();
    }
  }

  appendHead(head: number, keys: Float32Array, values: Float32Array, positions: Int32Array): void {
    this.assertAlive();
    const n = positions.length;
    const d = this.headDim;
    if (keys.length !== n * d || values.length !== n * d) {
      throw new ShapeMismatchError(`ragged store appendHead: keys and values must hold ${n} × ${d} numbers, got ${keys.length} and ${values.length}`);
    }
    if (n === 0) return;
    let buffers = this.head(head);
    if (buffers.count + n > buffers.positions.length) {
      const grown = this.grownCopy(buffers, buffers.count + n);
      this.release(buffers);
      this.heads[head] = grown;
      buffers = grown;
    }
    for (const [target, data] of [
      [buffers.keys, keys],
      [buffers.values, values],
    ] as const) {
      const rows = tensor(data, [n, d], { dtype: 'f32', backend: this.backend });
      const converted = this.dtype === 'f32' ? rows : cast(rows, this.dtype);
      const view = slice(target, [buffers.count, 0], [buffers.count + n, d]);
      try {
        assign(view, converted);
      } finally {
        view.dispose();
        if (converted !== rows) converted.dispose();
        rows.dispose();
      }
    }
    buffers.positions.set(positions, buffers.count);
    buffers.count += n;
  }

  retain(head: number, keep: Int32Array): void {
    this.assertAlive();
    const buffers = this.head(head);
    validateKeepIndices(keep, buffers.count, `ragged store retain (head ${head})`);
    if (keep.length === buffers.count) return;
    const kept = keep.length;
    const capacity = buffers.positions.length;
    const headroom = Math.max(this.minCapacity, Math.ceil(kept / 8));
    const shrink = capacity - kept > Math.max(this.minCapacity, kept);
    const target = shrink ? this.allocate(kept + headroom) : buffers;
    const index = tensor(keep, [kept], { dtype: 'i32', backend: this.backend });
    try {
      for (const [from, to] of [
        [buffers.keys, target.keys],
        [buffers.values, target.values],
      ] as const) {
        if (kept === 0) continue;
        const stored = slice(from, [0, 0], [buffers.count, this.headDim]);
        const picked = gather(stored, index, 0);
        const dst = slice(to, [0, 0], [kept, this.headDim]);
        try {
          assign(dst, picked);
        } finally {
          stored.dispose();
          picked.dispose();
          dst.dispose();
        }
      }
    } catch (error) {
      if (target !== buffers) this.release(target);
      throw error;
    } finally {
      index.dispose();
    }
    const positions = buffers.positions;
    for (let i = 0; i < kept; i++) target.positions[i] = positions[keep[i]];
    target.count = kept;
    if (target !== buffers) {
      this.release(buffers);
      this.heads[head] = target;
    }
  }

  write(head: number, index: number, key: Float32Array, value: Float32Array): void {
    this.assertAlive();
    const buffers = this.head(head);
    if (!Number.isInteger(index) || index < 0 || index >= buffers.count) {
      throw new IndexOutOfRangeError(`ragged store write: token ${index} is outside [0, ${buffers.count}) of head ${head}`);
    }
    if (key.length !== this.headDim || value.length !== this.headDim) {
      throw new ShapeMismatchError(`ragged store write: key and value must have ${this.headDim} numbers`);
    }
    for (const [target, data] of [
      [buffers.keys, key],
      [buffers.values, value],
    ] as const) {
      const row = tensor(data, [1, this.headDim], { dtype: 'f32', backend: this.backend });
      const converted = this.dtype === 'f32' ? row : cast(row, this.dtype);
      const view = slice(target, [index, 0], [index + 1, this.headDim]);
      try {
        assign(view, converted);
      } finally {
        view.dispose();
        if (converted !== row) converted.dispose();
        row.dispose();
      }
    }
  }

  read(head: number): { keys: Float32Array; values: Float32Array } {
    this.assertAlive();
    const buffers = this.head(head);
    if (buffers.count === 0) return { keys: new Float32Array(0), values: new Float32Array(0) };
    const k = slice(buffers.keys, [0, 0], [buffers.count, this.headDim]);
    const v = slice(buffers.values, [0, 0], [buffers.count, this.headDim]);
    try {
      return { keys: Float32Array.from(k.readFloat32Sync()), values: Float32Array.from(v.readFloat32Sync()) };
    } finally {
      k.dispose();
      v.dispose();
    }
  }

  view(head: number): HeadView {
    this.assertAlive();
    const buffers = this.head(head);
    const n = buffers.count;
    const rows = [slice(buffers.keys, [0, 0], [n, this.headDim]), slice(buffers.values, [0, 0], [n, this.headDim])];
    const keys = reshape(rows[0], [1, n, this.headDim]);
    const values = reshape(rows[1], [1, n, this.headDim]);
    rows[0].dispose();
    rows[1].dispose();
    return {
      keys,
      values,
      positions: buffers.positions.slice(0, n),
      dispose: () => {
        keys.dispose();
        values.dispose();
      },
    };
  }

  memory(): Record<string, number> {
    const rowBytes = this.headDim * bytesPerElement(this.dtype);
    let stored = 0;
    let capacity = 0;
    for (const buffers of this.heads) {
      stored += buffers.count;
      capacity += buffers.positions.length;
    }
    return {
      keys: stored * rowBytes,
      values: stored * rowBytes,
      positions: stored * 4,
      reserved: (capacity - stored) * (2 * rowBytes + 4),
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const buffers of this.heads) this.release(buffers);
  }

  private head(head: number): HeadBuffers {
    this.assertAlive();
    if (!Number.isInteger(head) || head < 0 || head >= this.kvHeads) {
      throw new IndexOutOfRangeError(`ragged store: head ${head} is outside [0, ${this.kvHeads})`);
    }
    return this.heads[head];
  }

  private allocate(capacity: number): HeadBuffers {
    const size = Math.max(capacity, 0);
    const keys = zeros([size, this.headDim], { dtype: this.dtype, backend: this.backend });
    let values: Tensor;
    try {
      values = zeros([size, this.headDim], { dtype: this.dtype, backend: this.backend });
    } catch (error) {
      keys.dispose();
      throw error;
    }
    return { keys, values, positions: new Int32Array(size), count: 0 };
  }

  /**
   * A copy of `buffers` with room for `needed` tokens: an eighth more than the old capacity (at least
   * `minCapacity` more) while tokens arrive one by one, exactly `needed` for a larger bulk append (a
   * prompt). An eighth, not double: the slack is resident memory, and stores that only grow (merged
   * tokens) would otherwise report up to half their buffers as reserved; copies stay amortized O(1).
   */
  private grownCopy(buffers: HeadBuffers, needed: number): HeadBuffers {
    const old = buffers.positions.length;
    const capacity = Math.max(needed, old + Math.max(this.minCapacity, Math.ceil(old / 8)));
    const grown = this.allocate(capacity);
    try {
      if (buffers.count > 0) {
        for (const [from, to] of [
          [buffers.keys, grown.keys],
          [buffers.values, grown.values],
        ] as const) {
          const src = slice(from, [0, 0], [buffers.count, this.headDim]);
          const dst = slice(to, [0, 0], [buffers.count, this.headDim]);
          try {
            assign(dst, src);
          } finally {
            src.dispose();
            dst.dispose();
          }
        }
      }
    } catch (error) {
      this.release(grown);
      throw error;
    }
    grown.positions.set(buffers.positions.subarray(0, buffers.count));
    grown.count = buffers.count;
    return grown;
  }

  /** Writes head `h` of `source` ([kvHeads, n, d]) into rows [at, at + n) of `target`. */
  private writeRows(target: Tensor, at: number, source: Tensor, h: number): void {
    const n = source.shape[1];
    const src = slice(source, [h, 0, 0], [h + 1, n, this.headDim]);
    const rows = reshape(src, [n, this.headDim]);
    const dst = slice(target, [at, 0], [at + n, this.headDim]);
    try {
      assign(dst, rows);
    } finally {
      src.dispose();
      rows.dispose();
      dst.dispose();
    }
  }

  private release(buffers: HeadBuffers): void {
    buffers.keys.dispose();
    buffers.values.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError('ragged token store');
  }
}

