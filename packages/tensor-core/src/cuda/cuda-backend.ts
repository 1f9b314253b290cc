import type { Backend, Storage } from '../backend.js';
import { allocateHostArray, bytesPerElement, type DType, type HostArray, hostArrayMatches } from '../dtype.js';
import { DisposedError, DTypeMismatchError, IndexOutOfRangeError, InvalidConfigError } from '../errors.js';
import { type Shape, sizeOf } from '../shape.js';
import { SharedStorage, Tensor } from '../tensor.js';
import type { CudaModuleDefinition } from './kernel-api.js';
import type { CudaDeviceInfo, CudaModule, CudaRuntimeLike, DeviceAllocation, KernelArg, LaunchConfig } from './runtime-contract.js';

/** Device memory behind a tensor. */
export class CudaStorage implements Storage {
  constructor(
    readonly allocation: DeviceAllocation,
    readonly byteLength: number,
  ) {}

  get address(): number {
    return this.allocation.address;
  }
}

/** What a device-side check found (see kv_report_error in the prelude). */
export const DEVICE_CHECK = {
  gatherIndex: 1,
  scatterIndex: 2,
  packCode: 3,
} as const;

const FLAG_WORDS = 4;

/**
 * The CUDA backend: tensors live in device memory from the runtime's caching allocator; kernels
 * are CUDA C modules compiled on first use and launched on the runtime's stream, so operations
 * only enqueue work and `read()` waits for it. Kernels that validate their data on the device
 * (index ranges, code widths) report into a small flag buffer that is checked at the next
 * download or synchronize, where the problem surfaces as a typed error.
 */
export class CudaBackend implements Backend {
  readonly name = 'cuda';
  readonly synchronous = false;
  private held = 0;
  private readonly modules = new Map<CudaModuleDefinition, CudaModule>();
  private readonly flag: DeviceAllocation;
  private readonly armedChecks = new Set<string>();
  private disposed = false;

  constructor(readonly runtime: CudaRuntimeLike) {
    this.flag = runtime.alloc(FLAG_WORDS * 4);
    runtime.memset(this.flag.address, 0, FLAG_WORDS, 4);
  }

  get device(): CudaDeviceInfo {
    return this.runtime.device;
  }

  allocate(dtype: DType, length: number): CudaStorage {
    const storage = this.allocateUninitialized(dtype, length);
    if (storage.byteLength > 0) this.runtime.memset(storage.address, 0, storage.byteLength, 1);
    return storage;
  }

  /** Storage whose contents are whatever the allocator's block held (kernels that write every element use it). */
  allocateUninitialized(dtype: DType, length: number): CudaStorage {
    this.assertAlive();
    const bytes = bytesPerElement(dtype) * length;
    const storage = new CudaStorage(this.runtime.alloc(bytes), bytes);
    this.held += bytes;
    return storage;
  }

  upload(dtype: DType, data: HostArray): CudaStorage {
    if (!hostArrayMatches(dtype, data)) {
      throw new DTypeMismatchError(`cuda upload: a ${data.constructor.name} cannot hold ${dtype} data`, { dtype });
    }
    const storage = this.allocateUninitialized(dtype, data.length);
    if (data.byteLength > 0) this.runtime.upload(storage.address, data);
    return storage;
  }

  async download(storage: Storage, dtype: DType, offset: number, length: number): Promise<HostArray> {
    this.assertAlive();
    const out = allocateHostArray(dtype, length);
    if (length > 0) await this.runtime.download((storage as CudaStorage).address + offset * bytesPerElement(dtype), out);
    await this.checkDevice();
    return out;
  }

  release(storage: Storage): void {
    if (this.disposed) return;
    this.held -= storage.byteLength;
    this.runtime.free((storage as CudaStorage).allocation);
  }

  bytesInUse(): number {
    return this.held;
  }

  async synchronize(): Promise<void> {
    this.assertAlive();
    await this.runtime.synchronize();
    await this.checkDevice();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.modules.clear();
    this.held = 0;
    this.runtime.dispose();
  }

  // ---- for kernel implementations --------------------------------------------------------------

  /** A new row-major tensor on this backend, contents undefined (the kernel writes every element). */
  empty(shape: Shape, dtype: DType): Tensor {
    return new Tensor(new SharedStorage(this, this.allocateUninitialized(dtype, sizeOf(shape))), shape, dtype);
  }

  /** A new zero-filled tensor on this backend. */
  zeros(shape: Shape, dtype: DType): Tensor {
    return new Tensor(new SharedStorage(this, this.allocate(dtype, sizeOf(shape))), shape, dtype);
  }

  /** Device address of the view's first element (storage base + offset). */
  address(t: Tensor): number {
    if (t.backend !== this) throw new InvalidConfigError(`cuda: ${t.toString()} does not live on this CUDA backend`);
    return (t.storage as CudaStorage).address + t.offset * bytesPerElement(t.dtype);
  }

  /** Device address of the start of the tensor's storage (kernels that take the view's offset separately). */
  baseAddress(t: Tensor): number {
    if (t.backend !== this) throw new InvalidConfigError(`cuda: ${t.toString()} does not live on this CUDA backend`);
    return (t.storage as CudaStorage).address;
  }

  /** The module, compiled (through the runtime's disk cache) and loaded on first use. */
  module(definition: CudaModuleDefinition): CudaModule {
    this.assertAlive();
    let module = this.modules.get(definition);
    if (!module) {
      module = this.runtime.loadModule(definition);
      this.modules.set(definition, module);
    }
    return module;
  }

  /** Launches `kernel` of `module` on the stream. */
  launch(definition: CudaModuleDefinition, kernel: string, config: LaunchConfig, args: readonly KernelArg[]): void {
    const fn = this.module(definition).getFunction(kernel);
    this.runtime.launch(fn, config, args);
  }

  /**
   * The device address of the check flag, for a kernel that validates its data on the device;
   * the next download or synchronize reads the flag and throws the typed error it describes.
   */
  deviceCheckFlag(kernel: string): number {
    this.armedChecks.add(kernel);
    return this.flag.address;
  }

  private async checkDevice(): Promise<void> {
    if (this.armedChecks.size === 0) return;
    const words = new Uint32Array(FLAG_WORDS);
    await this.runtime.download(this.flag.address, words);
    const kernels = [...this.armedChecks].join(', ');
    this.armedChecks.clear();
    if (words[0] === 0) return;
    this.runtime.memset(this.flag.address, 0, FLAG_WORDS, 4);
    const value = words[1] | 0;
    const position = words[2];
    const limit = words[3];
    switch (words[0]) {
      case DEVICE_CHECK.gatherIndex:
      case DEVICE_CHECK.scatterIndex: {
        const op = words[0] === DEVICE_CHECK.gatherIndex ? 'gather' : 'scatter';
        throw new IndexOutOfRangeError(`${op} (cuda): index ${value} at position ${position} is out of range [0, ${limit}); the result is invalid`, {
          index: value,
          position,
          size: limit,
        });
      }
      case DEVICE_CHECK.packCode:
        throw new InvalidConfigError(`packBits (cuda): code ${value >>> 0} at position ${position} does not fit in ${limit} bits; the result is invalid`, {
          code: value >>> 0,
          position,
          bits: limit,
        });
      default:
        throw new InvalidConfigError(`cuda: a device-side check of ${kernels} failed with code ${words[0]}`, { code: words[0] });
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError('CudaBackend');
  }
}
