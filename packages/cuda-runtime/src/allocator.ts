import { InvalidConfigError, OutOfMemoryError } from '@kvkit/tensor-core';
import type { DeviceAllocation } from '@kvkit/tensor-core/cuda';

/** The raw device memory calls the allocator sits on (the addon, or a fake in tests). */
export interface DeviceMemory {
  /** Allocates `bytes`; throws an error whose `cudaCode` is 2 when the device is out of memory. */
  malloc(bytes: number): number;
  free(address: number): void;
  /** [free, total] bytes as the driver reports them. */
  info(): [number, number];
  /** Blocks until queued work is done (before cached blocks go back to the driver). */
  waitIdle(): void;
}

const SMALL_LIMIT = 1 << 20;
const SMALL_STEP = 512;
const LARGE_STEP = 2 << 20;

/** The block size an allocation of `bytes` takes: 512-byte steps up to 1 MiB, 2 MiB steps above. */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 1);
  return b <= SMALL_LIMIT ? Math.ceil(b / SMALL_STEP) * SMALL_STEP : Math.ceil(b / LARGE_STEP) * LARGE_STEP;
}

interface Block extends DeviceAllocation {
  readonly size: number;
}

/**
 * A caching allocator: freed blocks wait in per-size free lists and serve later requests of the same
 * size class without a driver call (cuMemAlloc/cuMemFree synchronize the device; the cache avoids
 * both in steady state). All work runs on one stream, so a block freed by the host and handed out
 * again is only touched by kernels queued after the ones that used it. When the driver runs out,
 * the cache is emptied and the request retried once before OutOfMemoryError.
 */
export class CachingAllocator {
  private readonly freeLists = new Map<number, number[]>();
  private readonly live = new Map<number, Block>();
  private cachedBytes = 0;
  private inUseBytes = 0;

  constructor(private readonly memory: DeviceMemory) {}

  alloc(bytes: number): DeviceAllocation {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new InvalidConfigError(`cuda alloc: ${bytes} is not a valid byte count`, { bytes });
    const size = sizeClass(bytes);
    const cached = this.freeLists.get(size);
    let address = cached?.pop();
    if (address !== undefined) {
      this.cachedBytes -= size;
    } else {
      address = this.mallocWithRetry(size, bytes);
    }
    const block: Block = { address, bytes, size };
    this.live.set(address, block);
    this.inUseBytes += size;
    return block;
  }

  free(allocation: DeviceAllocation): void {
    const block = this.live.get(allocation.address);
    if (!block) throw new InvalidConfigError(`cuda free: 0x${allocation.address.toString(16)} is not a live allocation (freed twice?)`);
    this.live.delete(allocation.address);
    this.inUseBytes -= block.size;
    let list = this.freeLists.get(block.size);
    if (!list) this.freeLists.set(block.size, (list = []));
    list.push(block.address);
    this.cachedBytes += block.size;
  }

  /** Returns every cached block to the driver (waits for queued work first). */
  emptyCache(): void {
    if (this.cachedBytes === 0) return;
    this.memory.waitIdle();
    for (const list of this.freeLists.values()) for (const address of list) this.memory.free(address);
    this.freeLists.clear();
    this.cachedBytes = 0;
  }

  /** Frees everything, live blocks included (the runtime is going away). */
  releaseAll(): void {
    this.emptyCache();
    for (const address of this.live.keys()) this.memory.free(address);
    this.live.clear();
    this.inUseBytes = 0;
  }

  stats(): { inUse: number; cached: number; liveBlocks: number } {
    return { inUse: this.inUseBytes, cached: this.cachedBytes, liveBlocks: this.live.size };
  }

  private mallocWithRetry(size: number, requested: number): number {
    try {
      return this.memory.malloc(size);
    } catch (error) {
      if (!isOutOfMemory(error)) throw error;
      this.emptyCache();
      try {
        return this.memory.malloc(size);
      } catch (retryError) {
        if (!isOutOfMemory(retryError)) throw retryError;
        const [free, total] = this.memory.info();
        throw new OutOfMemoryError(
          `cuda: cannot allocate ${formatBytes(requested)} on the device (${formatBytes(free)} free of ${formatBytes(total)}; ${formatBytes(this.inUseBytes)} held by live tensors)`,
          { requested, free, total, inUse: this.inUseBytes },
        );
      }
    }
  }
}

function isOutOfMemory(error: unknown): boolean {
  return (error as { cudaCode?: number })?.cudaCode === 2;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
}
