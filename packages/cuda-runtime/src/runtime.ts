import { DisposedError, InvalidConfigError } from '@kvkit/tensor-core';
import type {
  CudaDeviceInfo,
  CudaFunction,
  CudaMemoryInfo,
  CudaModule,
  CudaRuntimeLike,
  CudaSource,
  DeviceAllocation,
  Dim3,
  KernelArg,
  LaunchConfig,
} from '@kvkit/tensor-core/cuda';
import type { DeviceOps, NativeAddon } from './addon.js';
import { CachingAllocator } from './allocator.js';
import { packArgs } from './args.js';
import { type CudaCompiler, compileCached, defaultCacheDir, evictCached } from './compiler.js';
import { cudaCall, translateCudaError } from './errors.js';

interface LoadedFunction extends CudaFunction {
  readonly handle: number;
  dynamicSharedLimit: number;
}

/** A device event for timing work on the stream. */
export interface CudaEvent {
  /** Marks the current end of the stream. */
  record(): void;
  /** Milliseconds between `start` and this event; both must have been recorded and reached. */
  elapsedSince(start: CudaEvent): number;
  dispose(): void;
}

const STATIC_SHARED_LIMIT = 48 * 1024;
const RECENT_KERNELS = 8;

function dim3(value: Dim3, what: string, kernel: string): [number, number, number] {
  const [x, y = 1, z = 1] = typeof value === 'number' ? [value] : value;
  for (const d of [x, y, z]) {
    if (!Number.isInteger(d) || d < 1 || d > 2 ** 31 - 1) {
      throw new InvalidConfigError(`cuda launch of "${kernel}": ${what} dimensions must be positive integers, got ${JSON.stringify(value)}`, { kernel });
    }
  }
  return [x, y, z];
}

/**
 * One CUDA device seen from JavaScript: caching allocator, host↔device and device↔device copies on
 * one stream, modules compiled through the disk cache, typed launches, events. Errors come back as
 * kvkit's typed errors naming the operation and kernel. Set KVKIT_CUDA_SYNC=1 to synchronize after
 * every launch, so an asynchronous fault names the exact kernel that caused it.
 */
export class CudaRuntime implements CudaRuntimeLike {
  private readonly allocator: CachingAllocator;
  private readonly modules = new Map<string, { source: CudaSource; module: CudaModule }>();
  private readonly moduleHandles: number[] = [];
  private readonly recent: string[] = [];
  private syncEachLaunch: boolean;
  private disposed = false;

  constructor(
    private readonly native: DeviceOps,
    readonly device: CudaDeviceInfo,
    private readonly compiler: CudaCompiler,
    private readonly cacheDir: string = defaultCacheDir(),
  ) {
    this.syncEachLaunch = process.env.KVKIT_CUDA_SYNC === '1';
    this.allocator = new CachingAllocator({
      malloc: (bytes) => native.memAlloc(bytes),
      free: (address) => native.memFree(address),
      info: () => native.memGetInfo(),
      waitIdle: () => native.synchronizeBlocking(),
    });
  }

  alloc(bytes: number): DeviceAllocation {
    this.assertAlive();
    return cudaCall({ operation: `alloc of ${bytes} bytes` }, () => this.allocator.alloc(bytes));
  }

  free(allocation: DeviceAllocation): void {
    if (this.disposed) return;
    this.allocator.free(allocation);
  }

  upload(dst: number, data: ArrayBufferView): void {
    this.assertAlive();
    cudaCall({ operation: 'host→device copy' }, () => this.native.memcpyHtoD(dst, data));
  }

  async download(src: number, into: ArrayBufferView): Promise<void> {
    this.assertAlive();
    const pending = cudaCall({ operation: 'device→host copy' }, () => this.native.memcpyDtoH(into, src));
    try {
      await pending;
    } catch (error) {
      throw translateCudaError(error, { operation: 'device→host copy (after the queued kernels)', kernel: this.recentKernels() });
    }
  }

  copy(dst: number, src: number, bytes: number): void {
    this.assertAlive();
    cudaCall({ operation: 'device→device copy' }, () => this.native.memcpyDtoD(dst, src, bytes));
  }

  memset(dst: number, value: number, count: number, width: 1 | 2 | 4): void {
    this.assertAlive();
    cudaCall({ operation: 'memset' }, () => this.native.memset(dst, value >>> 0, count, width));
  }

  loadModule(source: CudaSource): CudaModule {
    this.assertAlive();
    const existing = this.modules.get(source.name);
    if (existing && (existing.source === source || existing.source.source === source.source)) return existing.module;
    const compiled = compileCached(source, this.device.arch, this.compiler, this.cacheDir);
    let handle: number;
    try {
      handle = this.native.moduleLoad(compiled.image);
    } catch (error) {
      if (!compiled.fromCache) throw translateCudaError(error, { operation: `loading module "${source.name}"` });
      // A cached image the driver rejects (truncated, other driver): drop it and compile afresh.
      evictCached(compiled.key, this.cacheDir);
      const fresh = compileCached(source, this.device.arch, this.compiler, this.cacheDir);
      handle = cudaCall({ operation: `loading module "${source.name}"` }, () => this.native.moduleLoad(fresh.image));
    }
    this.moduleHandles.push(handle);
    const functions = new Map<string, LoadedFunction>();
    const native = this.native;
    const module: CudaModule = {
      name: source.name,
      getFunction(name: string): CudaFunction {
        let fn = functions.get(name);
        if (!fn) {
          const fnHandle = cudaCall({ operation: `finding kernel "${name}" in module "${source.name}"`, kernel: name }, () => native.moduleGetFunction(handle, name));
          fn = { module: source.name, name, handle: fnHandle, dynamicSharedLimit: STATIC_SHARED_LIMIT };
          functions.set(name, fn);
        }
        return fn;
      },
    };
    this.modules.set(source.name, { source, module });
    return module;
  }

  launch(fn: CudaFunction, config: LaunchConfig, args: readonly KernelArg[]): void {
    this.assertAlive();
    const loaded = fn as LoadedFunction;
    if (typeof loaded.handle !== 'number') throw new InvalidConfigError(`cuda launch: "${fn.name}" was not obtained from this runtime's getFunction`);
    const [gx, gy, gz] = dim3(config.grid, 'grid', fn.name);
    const [bx, by, bz] = dim3(config.block, 'block', fn.name);
    const shared = config.sharedBytes ?? 0;
    if (shared > loaded.dynamicSharedLimit) {
      if (shared > this.device.maxSharedMemoryPerBlockOptin) {
        throw new InvalidConfigError(`cuda launch of "${fn.name}": ${shared} bytes of shared memory exceed the device's ${this.device.maxSharedMemoryPerBlockOptin}`, {
          kernel: fn.name,
          shared,
        });
      }
      cudaCall({ operation: 'raising the shared memory limit', kernel: fn.name }, () => this.native.funcSetMaxDynamicShared(loaded.handle, shared));
      loaded.dynamicSharedLimit = shared;
    }
    const packed = packArgs(args);
    cudaCall({ operation: 'launch', kernel: fn.name, details: { grid: [gx, gy, gz], block: [bx, by, bz], shared } }, () =>
      this.native.launch(loaded.handle, gx, gy, gz, bx, by, bz, shared, packed.bytes, packed.offsets),
    );
    this.recent.push(fn.name);
    if (this.recent.length > RECENT_KERNELS) this.recent.shift();
    if (this.syncEachLaunch) cudaCall({ operation: 'kernel execution', kernel: fn.name }, () => this.native.synchronizeBlocking());
  }

  async synchronize(): Promise<void> {
    this.assertAlive();
    try {
      await this.native.synchronize();
    } catch (error) {
      throw translateCudaError(error, { operation: 'synchronize (a queued kernel failed)', kernel: this.recentKernels() });
    }
  }

  /**
   * Synchronize after every launch (default: KVKIT_CUDA_SYNC=1), so an asynchronous fault is
   * reported by the launch of the kernel that caused it. Slow; for debugging and first runs.
   */
  setSynchronousLaunches(on: boolean): void {
    this.syncEachLaunch = on;
  }

  /** Kernel attributes (registers, static shared memory), for tuning and diagnostics. */
  functionAttributes(fn: CudaFunction): ReturnType<NativeAddon['funcAttributes']> {
    return cudaCall({ operation: 'function attributes', kernel: fn.name }, () => this.native.funcAttributes((fn as LoadedFunction).handle));
  }

  createEvent(): CudaEvent {
    this.assertAlive();
    const native = this.native;
    const handle = cudaCall({ operation: 'event create' }, () => native.eventCreate());
    let alive = true;
    const event: CudaEvent & { handle: number } = {
      handle,
      record: () => cudaCall({ operation: 'event record' }, () => native.eventRecord(handle)),
      elapsedSince: (start) => cudaCall({ operation: 'event elapsed time' }, () => native.eventElapsed((start as CudaEvent & { handle: number }).handle, handle)),
      dispose: () => {
        if (alive && !this.disposed) native.eventDestroy(handle);
        alive = false;
      },
    };
    return event;
  }

  memoryInfo(): CudaMemoryInfo {
    this.assertAlive();
    const [free, total] = cudaCall({ operation: 'memory info' }, () => this.native.memGetInfo());
    const { inUse, cached } = this.allocator.stats();
    return { free, total, inUse, cached };
  }

  emptyCache(): void {
    this.assertAlive();
    cudaCall({ operation: 'emptying the allocator cache' }, () => this.allocator.emptyCache());
  }

  dispose(): void {
    if (this.disposed) return;
    try {
      this.native.synchronizeBlocking();
      this.allocator.releaseAll();
      for (const handle of this.moduleHandles) this.native.moduleUnload(handle);
    } finally {
      this.disposed = true;
      this.native.close();
      onDispose?.(this);
    }
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private recentKernels(): string | undefined {
    return this.recent.length ? this.recent.join(' → ') : undefined;
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError('CudaRuntime');
  }
}

let onDispose: ((runtime: CudaRuntime) => void) | undefined;

/** @internal lets the loader forget its singleton when the runtime is disposed. */
export function setDisposeHook(hook: (runtime: CudaRuntime) => void): void {
  onDispose = hook;
}
