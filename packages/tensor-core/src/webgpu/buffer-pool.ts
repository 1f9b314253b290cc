/**
 * GPU buffers reused across steps. A decode loop allocates the same shapes every token; creating
 * and destroying a GPUBuffer each time costs driver calls and memory churn, so released buffers
 * wait here, grouped by size class, for the next allocation of that class.
 *
 * Size classes: multiples of 256 bytes, four classes per power of two above 4 KiB (a buffer is at
 * most ~19% larger than requested). Buffers above `maxPooledBytes` in total are destroyed on release.
 */
export interface PoolStats {
  /** Bytes of idle buffers waiting for reuse. */
  pooledBytes: number;
  pooledBuffers: number;
  /** Buffers created since the pool started, and allocations served from the pool. */
  created: number;
  reused: number;
}

const ALIGN = 256;

/** The buffer size an allocation of `bytes` gets (never above `cap`, never below 256). */
export function sizeClass(bytes: number, cap = Infinity): number {
  const aligned = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  let size = aligned;
  if (aligned > 4096) {
    const octave = 2 ** Math.floor(Math.log2(aligned));
    const step = octave / 4;
    size = Math.ceil(aligned / step) * step;
  }
  if (size <= cap) return size;
  return Math.max(Math.ceil(bytes / 16) * 16, 16);
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pooledBytes = 0;
  private pooledBuffers = 0;
  private created = 0;
  private reused = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly label: string,
    private readonly maxPooledBytes: number,
    private readonly maxBufferSize: number,
  ) {}

  /** A buffer of at least `bytes`; `fresh` is true when it was just created (and so is zero-filled). */
  acquire(bytes: number): { buffer: GPUBuffer; fresh: boolean } {
    const size = sizeClass(bytes, this.maxBufferSize);
    const list = this.free.get(size);
    const buffer = list?.pop();
    if (buffer) {
      this.pooledBytes -= size;
      this.pooledBuffers -= 1;
      this.reused += 1;
      return { buffer, fresh: false };
    }
    this.created += 1;
    return { buffer: this.device.createBuffer({ label: this.label, size, usage: this.usage }), fresh: true };
  }

  /** Takes back a buffer no queued work will touch any more. */
  release(buffer: GPUBuffer): void {
    if (this.pooledBytes + buffer.size > this.maxPooledBytes) {
      buffer.destroy();
      return;
    }
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    list.push(buffer);
    this.pooledBytes += buffer.size;
    this.pooledBuffers += 1;
  }

  /** Destroys idle buffers until at most `keepBytes` remain pooled. */
  trim(keepBytes = 0): void {
    for (const [size, list] of this.free) {
      while (list.length > 0 && this.pooledBytes > keepBytes) {
        list.pop()?.destroy();
        this.pooledBytes -= size;
        this.pooledBuffers -= 1;
      }
    }
  }

  stats(): PoolStats {
    return { pooledBytes: this.pooledBytes, pooledBuffers: this.pooledBuffers, created: this.created, reused: this.reused };
  }
}
