import { type Backend, InvalidConfigError, type MemoryReport } from '@kvkit/tensor-core';
import { PagedKVPool } from '../paged/page-pool.js';
import { PrefixSequence } from './prefix-sequence.js';

/** One chunk of the prefix tree: up to `chunkSize` consecutive tokens, one pool page per KV head. */
export class ChunkNode {
  readonly tokens: Int32Array;
  readonly positions: Int32Array;
  count = 0;
  /** Sequences whose path goes through this chunk. */
  refs = 0;
  readonly children = new Map<string, ChunkNode>();
  /** Set once the chunk is full and indexed under its parent (only full chunks are shared). */
  key: string | undefined;

  constructor(
    readonly parent: ChunkNode | undefined,
    readonly pages: Int32Array,
    chunkSize: number,
  ) {
    this.tokens = new Int32Array(chunkSize);
    this.positions = new Int32Array(chunkSize);
  }
}

/** The lookup key of a full chunk: its token ids and their positions (same text at the same place). */
export function chunkKey(tokens: ArrayLike<number>, positions: ArrayLike<number>): string {
  return `${Array.prototype.join.call(tokens, ',')}@${Array.prototype.join.call(positions, ',')}`;
}

export interface PrefixTreeOptions {
  kvHeads: number;
  headDim: number;
  /** Tokens per chunk (= page size of the pool; default 64). */
  chunkSize?: number;
  dtype?: 'f32' | 'f16';
  backend?: Backend;
  /** Pages allocated up front and the hard limit of the tree's pool. */
  initialPages?: number;
  maxPages?: number;
}

/**
 * ChunkAttention's prefix tree for one model layer: the KV cache cut into chunks of `chunkSize`
 * tokens, each stored once (one page per KV head in the tree's pool) and shared by every sequence
 * whose tokens start the same way. Chunks are reference-counted by the sequences that use them and
 * freed when the last one is released. Only full chunks are matched and shared; a sequence's
 * partly filled last chunk is its own.
 */
export class PrefixKVTree {
  readonly pool: PagedKVPool;
  readonly kvHeads: number;
  readonly chunkSize: number;
  /** The empty prefix; holds no pages. */
  readonly root: ChunkNode;
  private live = 0;

  constructor(options: PrefixTreeOptions) {
    if (!Number.isInteger(options.kvHeads) || options.kvHeads < 1) throw new InvalidConfigError(`PrefixKVTree: kvHeads must be a positive integer, got ${options.kvHeads}`);
    this.kvHeads = options.kvHeads;
    this.chunkSize = options.chunkSize ?? 64;
    this.pool = new PagedKVPool({
      headDim: options.headDim,
      pageSize: this.chunkSize,
      dtype: options.dtype,
      backend: options.backend,
      initialPages: options.initialPages ?? 4 * options.kvHeads,
      maxPages: options.maxPages,
    });
    this.root = new ChunkNode(undefined, new Int32Array(0), 0);
  }

  /** A new, empty sequence reading this tree. */
  openSequence(): PrefixSequence {
    return new PrefixSequence(this);
  }

  /** Chunks currently stored (shared ones once). */
  get chunkCount(): number {
    return this.live;
  }

  /** @internal A new chunk under `parent` on freshly allocated pages (one per KV head). */
  createChunk(parent: ChunkNode, pages: Int32Array): ChunkNode {
    this.live += 1;
    return new ChunkNode(parent, pages, this.chunkSize);
  }

  /** @internal Frees a chunk made for an append that then failed (it never joined the tree). */
  discardChunk(node: ChunkNode): void {
    this.pool.release(node.pages);
    this.live -= 1;
  }

  /** @internal Makes a full chunk findable under its parent (unless an identical sibling already is). */
  index(node: ChunkNode): void {
    const key = chunkKey(node.tokens, node.positions);
    if (node.parent && !node.parent.children.has(key)) {
      node.parent.children.set(key, node);
      node.key = key;
    }
  }

  /** @internal Drops one reference; a chunk nobody uses any more gives its pages back. */
  unref(node: ChunkNode): void {
    node.refs -= 1;
    if (node.refs > 0) return;
    if (node.key !== undefined && node.parent?.children.get(node.key) === node) node.parent.children.delete(node.key);
    this.pool.release(node.pages);
    this.live -= 1;
  }

  /** Every chunk's bytes, counted once, plus the pool's free pages (see `PagedKVPool.memory`). */
  memory(): MemoryReport {
    return this.pool.memory();
  }

  dispose(): void {
    this.pool.dispose();
  }
}
