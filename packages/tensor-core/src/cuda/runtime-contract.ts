/**
 * What the CUDA backend needs from a CUDA runtime. `@kvkit/cuda-runtime` implements it (the Node-API
 * addon); tensor-core only depends on this shape, so installing tensor-core pulls no native code and
 * the two packages build without a cycle.
 */

/** One kernel argument, passed by value the way the kernel declares it. */
export type KernelArg =
  /** A device address (`T*` in the kernel). */
  | { readonly type: 'ptr'; readonly value: number }
  | { readonly type: 'i32' | 'u32' | 'f32' | 'i64' | 'u64' | 'f64'; readonly value: number }
  /** A struct passed by value: its bytes, and the struct's alignment. */
  | { readonly type: 'bytes'; readonly value: Uint8Array; readonly align: number };

export interface CudaDeviceInfo {
  /** 'cuda' for a real device; 'emulator' for @kvkit/cuda-runtime's CPU emulator (tests without a GPU). */
  readonly kind: 'cuda' | 'emulator';
  readonly ordinal: number;
  readonly name: string;
  readonly computeCapability: readonly [number, number];
  /** The architecture kernels are compiled for, e.g. 'sm_90'. */
  readonly arch: string;
  readonly multiprocessors: number;
  readonly totalMemory: number;
  readonly driverVersion: number;
  readonly maxThreadsPerBlock: number;
  readonly maxSharedMemoryPerBlock: number;
  /** Shared memory a kernel may use after opting in (dynamic shared memory above 48 KiB). */
  readonly maxSharedMemoryPerBlockOptin: number;
  readonly l2CacheBytes: number;
  readonly memoryBusWidth: number;
  /** How kernels are compiled here: NVRTC (with its version) or nvcc from the PATH. */
  readonly compiler: string;
}

/** CUDA C source of one module: the text, the headers it includes by name, and compile options. */
export interface CudaSource {
  /** Module name: shows up in compile logs and errors. */
  readonly name: string;
  readonly source: string;
  /** Headers by include name, e.g. `{ 'kvkit/prelude.cuh': text }`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra compiler options (`-D...`); the architecture is added by the runtime. */
  readonly options?: readonly string[];
}

/** A kernel of a loaded module. */
export interface CudaFunction {
  readonly module: string;
  readonly name: string;
}

export interface CudaModule {
  readonly name: string;
  /** The kernel `name` (an `extern "C" __global__` function); throws when the module has none. */
  getFunction(name: string): CudaFunction;
}

export type Dim3 = number | readonly [number, number?, number?];

export interface LaunchConfig {
  grid: Dim3;
  block: Dim3;
  /** Dynamic shared memory in bytes (default 0); above 48 KiB the runtime opts the kernel in. */
  sharedBytes?: number;
}

export interface DeviceAllocation {
  readonly address: number;
  /** Bytes asked for (the allocator may hold a little more). */
  readonly bytes: number;
}

export interface CudaMemoryInfo {
  /** Device memory free and total, as the driver reports them. */
  readonly free: number;
  readonly total: number;
  /** Bytes in live allocations handed out by the caching allocator. */
  readonly inUse: number;
  /** Bytes held by the allocator in freed blocks kept for reuse. */
  readonly cached: number;
}

export interface CudaRuntimeLike {
  readonly device: CudaDeviceInfo;
  /** Device memory from the caching allocator; throws OutOfMemoryError when even an emptied cache cannot serve it. */
  alloc(bytes: number): DeviceAllocation;
  /** Returns the block to the cache (reused in stream order, so queued kernels still see valid memory). */
  free(allocation: DeviceAllocation): void;
  /** Host → device, ordered after all work issued before; `data` may be reused as soon as this returns. */
  upload(dst: number, data: ArrayBufferView): void;
  /** Device → host into `into` (its byteLength bytes); resolves once the bytes are there. */
  download(src: number, into: ArrayBufferView): Promise<void>;
  /** Device → device, asynchronous on the stream. */
  copy(dst: number, src: number, bytes: number): void;
  /** Fills `count` elements of `width` bytes with `value` (the raw bit pattern). */
  memset(dst: number, value: number, count: number, width: 1 | 2 | 4): void;
  /** Compiles (through the disk cache) and loads a module; the same source loads once per runtime. */
  loadModule(source: CudaSource): CudaModule;
  launch(fn: CudaFunction, config: LaunchConfig, args: readonly KernelArg[]): void;
  /** Resolves when all queued work has finished; rejects with a typed error naming the last kernels. */
  synchronize(): Promise<void>;
  memoryInfo(): CudaMemoryInfo;
  /** Frees the cached blocks back to the driver. */
  emptyCache(): void;
  dispose(): void;
}

/** What `@kvkit/cuda-runtime` exports that the backend uses (imported dynamically). */
export interface CudaRuntimeModule {
  loadCudaRuntime(options?: { device?: number; emulate?: boolean }): CudaRuntimeLike;
}
