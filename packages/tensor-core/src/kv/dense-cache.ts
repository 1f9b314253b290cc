import type { Backend } from '../backend.js';
import { bytesPerElement } from '../dtype.js';
import { DisposedError, InvalidConfigError } from '../errors.js';
import { attention } from '../ops/attention.js';
import { tensor, zeros } from '../ops/creation.js';
import { assign, cast, slice } from '../ops/layout.js';
import type { Tensor } from '../tensor.js';
import type { AttendOptions, AttendResult, CacheLayerFactory, KVCacheLayer, LayerSpec, StepInfo } from './contract.js';
import type { MethodDescriptor } from './method-descriptor.js';
import { type MemoryReport, memoryReport } from './memory-report.js';
import { assertValuesAreKeys, validateAppend, validateAttend } from './validate.js';

export interface DenseCacheOptions {
  /** Storage dtype of K and V; default f16 (what a GPU runtime keeps), f32 for exact reference runs. */
  dtype?: 'f32' | 'f16';
  /** Tokens to allocate up front; capacity doubles when exceeded (default 256). */
  initialCapacity?: number;
}

/** The uncompressed cache as a method harnesses list beside the KV packages' (`dense`, `dense:dtype=f32`). */
export const denseMethod: MethodDescriptor = {
  name: 'dense',
  package: '@kvkit/tensor-core',
  description: 'the uncompressed cache (the baseline every other method is compared with)',
  params: [{ name: 'dtype', type: 'string', description: 'storage dtype of K and V', default: 'f16', values: ['f16', 'f32'] }],
  create: (p) => denseCache({ dtype: p.dtype as 'f16' | 'f32' }),
};

/**
 * The uncompressed reference cache: K/V in one preallocated buffer per layer that grows by doubling
 * (so decode does not reallocate per token), positions kept per token. Where the model's values are
 * its keys (`LayerSpec.valuesAreKeys`: DeepSeek's latent attention) it stores them once.
 */
export function denseCache(options: DenseCacheOptions = {}): CacheLayerFactory {
  const dtype = options.dtype ?? 'f16';
  const initialCapacity = options.initialCapacity ?? 256;
  if (dtype !== 'f32' && dtype !== 'f16') throw new InvalidConfigError(`denseCache: dtype must be f32 or f16, got ${dtype}`);
  if (!Number.isInteger(initialCapacity) || initialCapacity < 1) {
    throw new InvalidConfigError(`denseCache: initialCapacity must be a positive integer, got ${initialCapacity}`);
  }
  return (spec) => new DenseCacheLayer(spec, dtype, initialCapacity);
}

export class DenseCacheLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput = 'post-rope' as const;
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  private readonly backend: Backend;
  private keys: Tensor;
  /** Absent where the values are the keys (`spec.valuesAreKeys`). */
  private values?: Tensor;
  private positions: Int32Array;
  private devicePositions: Tensor;
  private stored = 0;
  private disposed = false;

  constructor(
    spec: LayerSpec,
    readonly dtype: 'f32' | 'f16',
    initialCapacity: number,
  ) {
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.backend = spec.backend;
    this.keys = zeros([this.kvHeads, initialCapacity, this.headDim], { dtype, backend: this.backend });
    if (!spec.valuesAreKeys) this.values = zeros([this.kvHeads, initialCapacity, this.headDim], { dtype, backend: this.backend });
    this.positions = new Int32Array(initialCapacity);
    this.devicePositions = zeros([initialCapacity], { dtype: 'i32', backend: this.backend });
  }

  get length(): number {
    return this.stored;
  }

  get capacity(): number {
    return this.positions.length;
  }

  /** Positions of the stored tokens, in storage order. */
  storedPositions(): Int32Array {
    return this.positions.slice(0, this.stored);
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    const n = validateAppend(this, k, v, step);
    assertValuesAreKeys(this.values === undefined, k, v, 'DenseCacheLayer.append');
    if (n === 0) return;
    const end = this.stored + n;
    if (end > this.capacity) this.grow(end);
    const kIn = k.dtype === this.dtype ? k : cast(k, this.dtype);
    const vIn = this.values === undefined ? kIn : v.dtype === this.dtype ? v : cast(v, this.dtype);
    const newPositions = tensor(step.positions, [n], { dtype: 'i32', backend: this.backend });
    try {
      this.write(this.keys, kIn);
      if (this.values) this.write(this.values, vIn);
      const posView = slice(this.devicePositions, [this.stored], [end]);
      assign(posView, newPositions);
      posView.dispose();
    } finally {
      if (kIn !== k) kIn.dispose();
      if (vIn !== v && vIn !== kIn) vIn.dispose();
      newPositions.dispose();
    }
    this.positions.set(step.positions, this.stored);
    this.stored = end; // last: until here the new tokens are invisible
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    const k = slice(this.keys, [0, 0, 0], [this.kvHeads, this.stored, this.headDim]);
    const v = this.values ? slice(this.values, [0, 0, 0], [this.kvHeads, this.stored, this.headDim]) : k;
    const keyPositions = slice(this.devicePositions, [0], [this.stored]);
    const queryPositions = tensor(options.positions, [options.positions.length], { dtype: 'i32', backend: this.backend });
    try {
      return attention(q, k, v, { ...options, queryPositions, keyPositions });
    } finally {
      k.dispose();
      if (v !== k) v.dispose();
      keyPositions.dispose();
      queryPositions.dispose();
    }
  }

  /** Drops every token (the buffers stay, as reserved capacity for the next ones). */
  clear(): void {
    this.assertAlive();
    this.stored = 0;
  }

  memory(): MemoryReport {
    const perToken = this.kvHeads * this.headDim * bytesPerElement(this.dtype);
    const reservedTokens = this.capacity - this.stored;
    const copies = this.values ? 2 : 1;
    return memoryReport(
      {
        keys: perToken * this.stored,
        values: this.values ? perToken * this.stored : 0,
        positions: 4 * this.stored * 2, // host copy + device copy
        reserved: copies * perToken * reservedTokens + 8 * reservedTokens,
      },
      this.stored,
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.keys.dispose();
    this.values?.dispose();
    this.devicePositions.dispose();
  }

  private write(storage: Tensor, source: Tensor): void {
    const view = slice(storage, [0, this.stored, 0], [this.kvHeads, this.stored + source.shape[1], this.headDim]);
    try {
      assign(view, source);
    } finally {
      view.dispose();
    }
  }

  /** Doubles capacity until `needed` fits; on failure nothing has changed. */
  private grow(needed: number): void {
    let capacity = this.capacity;
    while (capacity < needed) capacity *= 2;
    const keys = zeros([this.kvHeads, capacity, this.headDim], { dtype: this.dtype, backend: this.backend });
    const values = this.values && zeros([this.kvHeads, capacity, this.headDim], { dtype: this.dtype, backend: this.backend });
    const devicePositions = zeros([capacity], { dtype: 'i32', backend: this.backend });
    for (const [from, to] of [
      [this.keys, keys],
      ...(this.values && values ? [[this.values, values] as const] : []),
    ] as const) {
      const src = slice(from, [0, 0, 0], [this.kvHeads, this.stored, this.headDim]);
      const dst = slice(to, [0, 0, 0], [this.kvHeads, this.stored, this.headDim]);
      assign(dst, src);
      src.dispose();
      dst.dispose();
    }
    const srcPos = slice(this.devicePositions, [0], [this.stored]);
    const dstPos = slice(devicePositions, [0], [this.stored]);
    assign(dstPos, srcPos);
    srcPos.dispose();
    dstPos.dispose();
    this.keys.dispose();
    this.values?.dispose();
    this.devicePositions.dispose();
    this.keys = keys;
    this.values = values;
    this.devicePositions = devicePositions;
    const positions = new Int32Array(capacity);
    positions.set(this.positions.subarray(0, this.stored));
    this.positions = positions;
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`dense cache layer ${this.layerIndex}`);
  }
}
