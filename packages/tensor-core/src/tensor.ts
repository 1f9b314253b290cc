import type { Backend, Storage } from './backend.js';
import { type DType, type HostArrayOf, isFloatDType } from './dtype.js';
import { BackendUnavailable, DisposedError } from './errors.js';
import { bf16ArrayToF32, f16ArrayToF32 } from './float16.js';
import { runKernel } from './kernel-registry.js';
import { contiguousStrides, formatShape, type Shape, sizeOf } from './shape.js';

/** Storage shared by a tensor and its views; released when the last of them is disposed. */
export class SharedStorage {
  private refs = 1;
  constructor(
    readonly backend: Backend,
    readonly storage: Storage,
  ) {}

  get released(): boolean {
    return this.refs === 0;
  }

  retain(): void {
    if (this.refs === 0) throw new DisposedError('tensor storage');
    this.refs += 1;
  }

  release(): void {
    if (this.refs === 0) return;
    this.refs -= 1;
    if (this.refs === 0) this.backend.release(this.storage);
  }
}

/**
 * An n-dimensional array: shape, dtype, and a strided view into backend-owned storage.
 * Operations are free functions (`matmul(a, b)`) that dispatch on the backend through the kernel
 * registry; on asynchronous backends they only enqueue work, and `read()` waits for it.
 */
export class Tensor<D extends DType = DType> {
  readonly shape: Shape;
  readonly dtype: D;
  /** Element strides of this view (0 on broadcast axes is allowed). */
  readonly strides: readonly number[];
  /** Element offset of the view's first element inside its storage. */
  readonly offset: number;
  readonly size: number;
  /** @internal */
  readonly shared: SharedStorage;
  private disposed = false;

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) or a backend's helpers. */
  constructor(shared: SharedStorage, shape: Shape, dtype: D, strides?: readonly number[], offset = 0) {
    this.shared = shared;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    this.size = sizeOf(shape);
  }

  get backend(): Backend {
    return this.shared.backend;
  }

  get storage(): Storage {
    this.assertAlive();
    return this.shared.storage;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** True when the view covers its elements in row-major order without gaps (offset may be > 0). */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] === 1) continue;
      if (this.strides[i] !== expected) return false;
      expected *= this.shape[i];
    }
    return true;
  }

  /** A new view sharing this storage. @internal */
  view(shape: Shape, strides: readonly number[], offset: number): Tensor<D> {
    this.assertAlive();
    this.shared.retain();
    return new Tensor(this.shared, shape, this.dtype, strides, offset);
  }

  /** The elements in row-major order, in the dtype's host representation (f16/bf16 as bits). */
  async read(): Promise<HostArrayOf[D]> {
    this.assertAlive();
    if (this.isContiguous()) {
      return (await this.backend.download(this.shared.storage, this.dtype, this.offset, this.size)) as HostArrayOf[D];
    }
    const packed = await materialize(this);
    try {
      return await packed.read();
    } finally {
      packed.dispose();
    }
  }

  /** Synchronous `read()`; only on synchronous backends (CPU). */
  readSync(): HostArrayOf[D] {
    this.assertAlive();
    const backend = this.backend;
    if (!backend.downloadSync) {
      throw new BackendUnavailable(
        `readSync() needs a synchronous backend; "${backend.name}" is asynchronous, use await tensor.read()`,
      );
    }
    if (this.isContiguous()) {
      return backend.downloadSync(this.shared.storage, this.dtype, this.offset, this.size) as HostArrayOf[D];
    }
    const packed = materializeSync(this);
    try {
      return packed.readSync();
    } finally {
      packed.dispose();
    }
  }

  /** The elements as f32 (floats decoded; integers converted), row-major. */
  async readFloat32(): Promise<Float32Array> {
    return toFloat32Host(this.dtype, await this.read());
  }

  /** Synchronous `readFloat32()`; only on synchronous backends (CPU). */
  readFloat32Sync(): Float32Array {
    return toFloat32Host(this.dtype, this.readSync());
  }

  /** Releases this view; the storage goes back when its last view is disposed. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.shared.release();
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${formatShape(this.shape)}, ${this.backend.name})`;
  }

  private assertAlive(): void {
    if (this.disposed || this.shared.released) throw new DisposedError(`${this.toString()}`);
  }
}

function toFloat32Host(dtype: DType, data: HostArrayOf[DType]): Float32Array {
  if (dtype === 'f32') return data as Float32Array;
  if (dtype === 'f16') return f16ArrayToF32(data as Uint16Array);
  if (dtype === 'bf16') return bf16ArrayToF32(data as Uint16Array);
  return Float32Array.from(data as ArrayLike<number>);
}

async function materialize<D extends DType>(t: Tensor<D>): Promise<Tensor<D>> {
  return materializeSync(t);
}

function materializeSync<D extends DType>(t: Tensor<D>): Tensor<D> {
  return runKernel('contiguous', [t], {}) as Tensor<D>;
}

export function isFloatTensor(t: Tensor): boolean {
  return isFloatDType(t.dtype);
}
