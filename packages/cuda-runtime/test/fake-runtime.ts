import type { CudaDeviceInfo, CudaFunction, CudaModule, CudaRuntimeLike, CudaSource, DeviceAllocation, KernelArg, LaunchConfig } from '@kvkit/tensor-core/cuda';

export interface RecordedLaunch {
  kernel: string;
  module: string;
  config: LaunchConfig;
  args: readonly KernelArg[];
}

/**
 * A CUDA runtime in host memory for testing the TypeScript side of the backend (allocation,
 * copies, which kernel a launcher picks and with what arguments). Kernels are recorded, not run.
 */
export class FakeRuntime implements CudaRuntimeLike {
  readonly device: CudaDeviceInfo = {
    kind: 'cuda', ordinal: 0, name: 'fake', computeCapability: [9, 0], arch: 'sm_90', multiprocessors: 4, totalMemory: 1 << 30, driverVersion: 13000,
    maxThreadsPerBlock: 1024, maxSharedMemoryPerBlock: 49152, maxSharedMemoryPerBlockOptin: 232448, l2CacheBytes: 1 << 20, memoryBusWidth: 5120, compiler: 'fake',
  };
  readonly launches: RecordedLaunch[] = [];
  readonly copies: { dst: number; src: number; bytes: number }[] = [];
  private readonly blocks = new Map<number, Uint8Array>();
  private next = 0x100000;
  disposed = false;

  alloc(bytes: number): DeviceAllocation {
    const address = this.next;
    this.next += Math.ceil(Math.max(bytes, 1) / 512) * 512;
    this.blocks.set(address, new Uint8Array(Math.max(bytes, 1)));
    return { address, bytes };
  }
  free(allocation: DeviceAllocation): void {
    if (!this.blocks.delete(allocation.address)) throw new Error('double free');
  }
  liveBlocks(): number {
    return this.blocks.size;
  }
  /** The bytes at a device address (inside some block). */
  bytesAt(address: number, length: number): Uint8Array {
    for (const [base, block] of this.blocks) {
      if (address >= base && address + length <= base + block.length) return block.subarray(address - base, address - base + length);
    }
    throw new Error(`fake runtime: no block holds [0x${address.toString(16)}, +${length})`);
  }
  upload(dst: number, data: ArrayBufferView): void {
    this.bytesAt(dst, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  async download(src: number, into: ArrayBufferView): Promise<void> {
    new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(this.bytesAt(src, into.byteLength));
  }
  copy(dst: number, src: number, bytes: number): void {
    this.copies.push({ dst, src, bytes });
    this.bytesAt(dst, bytes).set(this.bytesAt(src, bytes));
  }
  memset(dst: number, value: number, count: number, width: 1 | 2 | 4): void {
    const view = new DataView(this.bytesAt(dst, count * width).buffer, dst - [...this.blocks.keys()].find((b) => dst >= b && dst < b + this.blocks.get(b)!.length)!);
    for (let i = 0; i < count; i++) {
      if (width === 1) view.setUint8(i, value);
      else if (width === 2) view.setUint16(2 * i, value, true);
      else view.setUint32(4 * i, value, true);
    }
  }
  loadModule(source: CudaSource): CudaModule {
    return { name: source.name, getFunction: (name: string): CudaFunction => ({ module: source.name, name }) };
  }
  launch(fn: CudaFunction, config: LaunchConfig, args: readonly KernelArg[]): void {
    this.launches.push({ kernel: fn.name, module: fn.module, config, args });
  }
  async synchronize(): Promise<void> {}
  memoryInfo() {
    return { free: 0, total: this.device.totalMemory, inUse: 0, cached: 0 };
  }
  emptyCache(): void {}
  dispose(): void {
    this.disposed = true;
  }
}
