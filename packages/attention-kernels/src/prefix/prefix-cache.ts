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
} from '@kvkit/tensor-core';
import { attendThroughTable } from '../paged/attend-table.js';
import type { PrefixSequence } from './prefix-sequence.js';
import { PrefixKVTree } from './prefix-tree.js';

export interface PrefixCacheOptions {
  /** Tokens per chunk (default 64). */
  chunkSize?: number;
  /** Storage dtype (default f16). */
  dtype?: 'f32' | 'f16';
  /** Hard page limit of each layer's tree. */
  maxPages?: number;
}

/** A cache-layer factory whose caches share prompt prefixes; `trees` holds one prefix tree per layer. */
export type PrefixSharedCacheFactory = CacheLayerFactory & { readonly trees: ReadonlyMap<number, PrefixKVTree> };

/**
 * Prefix-shared caches (ChunkAttention): every cache made by this factory (one per request) stores
 * its tokens in per-layer prefix trees, so requests that start with the same tokens at the same
 * positions hold those chunks once. `append` needs `step.tokenIds`. K/V of tokens whose chunk is
 * already in the tree are dropped (they are identical); `adoptPrefix` lets a runtime skip computing
 * them at all. Shared chunks are immutable, so these layers do not evict.
 */
export function prefixSharedCache(options: PrefixCacheOptions = {}): PrefixSharedCacheFactory {
  const trees = new Map<number, PrefixKVTree>();
  const factory = (spec: LayerSpec) => {
    let tree = trees.get(spec.layerIndex);
    if (!tree) {
      tree = new PrefixKVTree({ kvHeads: spec.kvHeads, headDim: spec.headDim, chunkSize: options.chunkSize, dtype: options.dtype, backend: spec.backend, maxPages: options.maxPages });
      trees.set(spec.layerIndex, tree);
    } else if (tree.kvHeads !== spec.kvHeads || tree.pool.headDim !== spec.headDim || tree.pool.backend !== spec.backend) {
      throw new InvalidConfigError(`prefixSharedCache: layer ${spec.layerIndex} was made for another model (KV heads, head dim or backend differ)`);
    }
    return new PrefixCacheLayer(spec, tree.openSequence());
  };
  return Object.assign(factory, { trees: trees as ReadonlyMap<number, PrefixKVTree> });
}

export class PrefixCacheLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput = 'post-rope' as const;
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  private disposed = false;

  constructor(
    spec: LayerSpec,
    readonly sequence: PrefixSequence,
  ) {
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
  }

  get length(): number {
    return this.sequence.length;
  }

  /** Tokens of this request held in chunks other requests use too. */
  get sharedTokens(): number {
    return this.sequence.sharedTokens;
  }

  /** Attaches the chunks already in the tree for these prompt tokens; returns how many tokens need no K/V. */
  adoptPrefix(tokenIds: Int32Array, positions: Int32Array): number {
    this.assertAlive();
    return this.sequence.adopt(tokenIds, positions);
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    validateAppend(this, k, v, step);
    if (!step.tokenIds) throw new InvalidConfigError(`prefix-shared cache layer ${this.layerIndex}: append needs step.tokenIds to find shared chunks`);
    this.sequence.append(k, v, step.positions, step.tokenIds);
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    return attendThroughTable(this, this.sequence, q, options);
  }

  /**
   * Own chunks in full; each shared chunk divided by the number of requests using it (so the layers
   * of all requests add up to what the tree holds). `reserved`: empty slots of the own last chunk.
   */
  memory(): MemoryReport {
    const pool = this.sequence.pool;
    const elem = bytesPerElement(pool.dtype);
    const perToken = this.kvHeads * ((pool.headDim + pool.valueDim) * elem + 4);
    let own = 0;
    let shared = 0;
    let reserved = 0;
    for (const node of this.sequence.nodes) {
      if (node.refs > 1) {
        shared += (node.count * perToken) / node.refs;
      } else {
        own += node.count;
        reserved += (pool.pageSize - node.count) * perToken;
      }
    }
    return memoryReport(
      {
        keys: own * this.kvHeads * pool.headDim * elem,
        values: own * this.kvHeads * pool.valueDim * elem,
        positions: own * this.kvHeads * 4,
        shared,
        reserved,
        indices: this.sequence.nodes.length * this.kvHeads * 4,
      },
      this.sequence.length,
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.sequence.release();
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`prefix-shared cache layer ${this.layerIndex}`);
  }
}
