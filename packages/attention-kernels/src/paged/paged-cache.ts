import {
  type AttendOptions,
  type AttendResult,
  bytesPerElement,
  type CacheLayerFactory,
  DisposedError,
  InvalidConfigError,
  type KVCacheLayer,
  type LayerSpec,
  type MemoryReport,
  memoryReport,
  type StepInfo,
  type Tensor,
  validateAppend,
  assertValuesAreKeys,
} from '@kvkit/tensor-core';
import { attendThroughTable } from './attend-table.js';
import { PagedKVPool } from './page-pool.js';
import { assertKeepIndices, PagedSequence } from './paged-sequence.js';

export interface PagedCacheOptions {
  /** Tokens per page (default 16). */
  pageSize?: number;
  /** Storage dtype (default f16). */
  dtype?: 'f32' | 'f16';
  /**
   * A pool shared by many layers/requests (must match headDim, dtype, page size and backend).
   * Default: each layer gets its own pool, which it disposes with itself.
   */
  pool?: PagedKVPool;
  /** For a layer's own pool: pages allocated up front (default 16) and the hard limit. */
  initialPages?: number;
  maxPages?: number;
}

/**
 * A KV cache layer on a paged pool (PagedAttention/vAttention): per KV head block tables, so
 * head-wise eviction (`retain`, `retainHead`) really gives pages back. `memory()` counts the tokens'
 * bytes, the unused slots of partly filled pages as `reserved`, the block tables as `indices` and,
 * for a layer's own pool, its free pages as `reserved` too. With a shared pool, the pool's free
 * capacity is reported by `pool.memory()`, not by the layers.
 */
export function pagedCache(options: PagedCacheOptions = {}): CacheLayerFactory {
  const dtype = options.dtype ?? options.pool?.dtype ?? 'f16';
  const pageSize = options.pageSize ?? options.pool?.pageSize ?? 16;
  if (options.pool && (options.pool.dtype !== dtype || options.pool.pageSize !== pageSize)) {
    throw new InvalidConfigError(`pagedCache: the shared pool stores ${options.pool.dtype} pages of ${options.pool.pageSize}, not ${dtype} pages of ${pageSize}`);
  }
  return (spec) => {
    const shared = options.pool;
    if (shared && (shared.headDim !== spec.headDim || shared.valueDim !== spec.headDim || shared.backend !== spec.backend)) {
      throw new InvalidConfigError(`pagedCache: the shared pool holds rows of ${shared.headDim} on "${shared.backend.name}", the model needs ${spec.headDim} on "${spec.backend.name}"`);
    }
    // A pool keeping one copy for keys and values would drop the values of a model whose values differ.
    if (shared?.valuesAreKeys && !spec.valuesAreKeys) throw new InvalidConfigError('pagedCache: the shared pool stores the values as the keys (valuesAreKeys), which this model’s values are not');
    const pool =
      shared ??
      new PagedKVPool({
        headDim: spec.headDim,
        pageSize,
        dtype,
        backend: spec.backend,
        initialPages: options.initialPages ?? 16,
        maxPages: options.maxPages,
        valuesAreKeys: spec.valuesAreKeys === true,
      });
    return new PagedCacheLayer(spec, pool, !shared);
  };
}

export class PagedCacheLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput = 'post-rope' as const;
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  readonly sequence: PagedSequence;
  private disposed = false;

  constructor(
    spec: LayerSpec,
    readonly pool: PagedKVPool,
    private readonly ownsPool: boolean,
  ) {
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.sequence = new PagedSequence(pool, spec.kvHeads);
  }

  /** The longest head's token count (heads differ after head-wise eviction; see `headLengths`). */
  get length(): number {
    return Math.max(0, ...this.sequence.headLengths());
  }

  headLengths(): Int32Array {
    return this.sequence.headLengths();
  }

  /** Positions of head `head`'s tokens, in storage order (the key order of statistics). */
  storedPositions(head: number): Int32Array {
    return this.sequence.headPositions(head);
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    validateAppend(this, k, v, step);
    assertValuesAreKeys(this.pool.valuesAreKeys, k, v, `cache layer ${this.layerIndex} append`);
    this.sequence.append(k, v, step.positions);
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    return attendThroughTable(this, this.sequence, q, options);
  }

  /**
   * Keeps, in every head, the tokens at storage indices `keep` (strictly increasing); or, given one
   * array per head, each head its own. Pages no longer needed go back to the pool. A bad index
   * throws before anything changes.
   */
  retain(keep: Int32Array | readonly Int32Array[]): void {
    this.assertAlive();
    const perHead = keep instanceof Int32Array ? Array.from({ length: this.kvHeads }, () => keep) : keep;
    if (perHead.length !== this.kvHeads) throw new InvalidConfigError(`retain: ${perHead.length} index arrays for ${this.kvHeads} KV heads`);
    const lengths = this.sequence.headLengths();
    perHead.forEach((indices, h) => assertKeepIndices(indices, lengths[h], `cache layer ${this.layerIndex} retain (head ${h})`));
    perHead.forEach((indices, h) => this.sequence.retain(h, indices));
  }

  /** Head-wise eviction for one head: keeps its tokens at storage indices `keep`. */
  retainHead(head: number, keep: Int32Array): void {
    this.assertAlive();
    this.sequence.retain(head, keep);
  }

  /** Drops every token of every head; their pages go back to the pool. */
  clear(): void {
    this.retain(new Int32Array(0));
  }

  memory(): MemoryReport {
    const pool = this.pool;
    const tokens = this.sequence.tokenCount;
    const slotBytes = pool.pageBytes / pool.pageSize;
    const unusedSlots = this.sequence.pageCount * pool.pageSize - tokens;
    const elem = bytesPerElement(pool.dtype);
    return memoryReport(
      {
        keys: tokens * pool.headDim * elem,
        values: pool.valuesAreKeys ? 0 : tokens * pool.valueDim * elem,
        positions: tokens * 4 * 2, // pool copy + host copy
        indices: this.sequence.pageCount * 4 + this.kvHeads * 4,
        reserved: unusedSlots * slotBytes + (this.ownsPool ? pool.freePages * pool.pageBytes : 0),
      },
      tokens / this.kvHeads,
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.sequence.release();
    if (this.ownsPool) this.pool.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`paged cache layer ${this.layerIndex}`);
  }
}
