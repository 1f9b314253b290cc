import type { DType, HostArray } from './dtype.js';

/**
 * Backend-owned memory. Each backend defines what is behind it (a host typed array, a GPUBuffer, a
 * device pointer); tensors only carry it around.
 */
export interface Storage {
  readonly byteLength: number;
}

/** What a backend can do; kernels come from the kernel registry, keyed by `name`. */
export interface Backend {
  /** Registry name: 'cpu', 'webgpu', 'cuda', ... */
  readonly name: string;
  /** True when results can be read back synchronously (the CPU backend). */
  readonly synchronous: boolean;
  /** Zero-filled storage for `length` elements of `dtype`. */
  allocate(dtype: DType, length: number): Storage;
  /** Storage holding a copy of `data`. */
  upload(dtype: DType, data: HostArray): Storage;
  /** Copies `length` elements starting at element `offset` back to the host. */
  download(storage: Storage, dtype: DType, offset: number, length: number): Promise<HostArray>;
  /** Synchronous download; only backends with `synchronous: true` implement it. */
  downloadSync?(storage: Storage, dtype: DType, offset: number, length: number): HostArray;
  /** Returns the memory to the backend (pool or system). */
  release(storage: Storage): void;
  /** Bytes currently held for live tensors. */
  bytesInUse(): number;
  /** Resolves once all queued work has finished. */
  synchronize(): Promise<void>;
  /** Frees everything the backend holds. */
  dispose(): void;
}
