import type { Backend, Storage } from '../backend.js';
import { allocateHostArray, bytesPerElement, type DType, type HostArray, hostArrayMatches } from '../dtype.js';
import { DTypeMismatchError } from '../errors.js';
import { registerCpuKernels } from './register.js';

/** Host memory: one typed array per storage. */
export class CpuStorage implements Storage {
  constructor(readonly data: HostArray) {}
  get byteLength(): number {
    return this.data.byteLength;
  }
}

/** The pure TypeScript backend: runs everywhere, and is the reference every other backend is tested against. */
export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly synchronous = true;
  private held = 0;

  allocate(dtype: DType, length: number): CpuStorage {
    return this.track(new CpuStorage(allocateHostArray(dtype, length)));
  }

  upload(dtype: DType, data: HostArray): CpuStorage {
    if (!hostArrayMatches(dtype, data)) {
      throw new DTypeMismatchError(`cpu upload: a ${data.constructor.name} cannot hold ${dtype} data`, { dtype });
    }
    return this.track(new CpuStorage(data.slice()));
  }

  /** Wraps `data` without copying; the caller gives up ownership. @internal */
  adopt(data: HostArray): CpuStorage {
    return this.track(new CpuStorage(data));
  }

  async download(storage: Storage, dtype: DType, offset: number, length: number): Promise<HostArray> {
    return this.downloadSync(storage, dtype, offset, length);
  }

  downloadSync(storage: Storage, _dtype: DType, offset: number, length: number): HostArray {
    return (storage as CpuStorage).data.slice(offset, offset + length);
  }

  release(storage: Storage): void {
    this.held -= storage.byteLength;
  }

  bytesInUse(): number {
    return this.held;
  }

  async synchronize(): Promise<void> {}

  dispose(): void {
    this.held = 0;
  }

  bytesFor(dtype: DType, length: number): number {
    return bytesPerElement(dtype) * length;
  }

  private track(storage: CpuStorage): CpuStorage {
    this.held += storage.byteLength;
    return storage;
  }
}

let instance: CpuBackend | undefined;

/** The CPU backend singleton, with its kernels registered. */
export function cpuBackend(): CpuBackend {
  if (!instance) {
    instance = new CpuBackend();
    registerCpuKernels();
  }
  return instance;
}
