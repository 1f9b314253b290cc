import { BufferUsage, MapMode } from './gpu-flags.js';

/** Queries per timer: begin and end of up to 2048 compute passes (the WebGPU maximum set size is 4096). */
const CAPACITY = 4096;

/**
 * GPU time of compute passes from `timestamp-query`: every pass recorded while the timer is active
 * writes a timestamp at its beginning and end; `read()` sums end − begin over all passes.
 */
export class PassTimer {
  private readonly querySet: GPUQuerySet;
  private used = 0;
  private overflow = false;

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: CAPACITY });
  }

  /** The `timestampWrites` of the next pass, or undefined when the set is full. */
  nextPass(): GPUComputePassTimestampWrites | undefined {
    if (this.used + 2 > CAPACITY) {
      this.overflow = true;
      return undefined;
    }
    const begin = this.used;
    this.used += 2;
    return { querySet: this.querySet, beginningOfPassWriteIndex: begin, endOfPassWriteIndex: begin + 1 };
  }

  /** Total GPU milliseconds of the timed passes (undefined when none ran or some pass went untimed). */
  async read(): Promise<number | undefined> {
    if (this.used === 0 || this.overflow) {
      this.querySet.destroy();
      return undefined;
    }
    const bytes = this.used * 8;
    const resolve = this.device.createBuffer({ size: bytes, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.resolveQuerySet(this.querySet, 0, this.used, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(MapMode.READ);
      const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
      let total = 0n;
      for (let i = 0; i < stamps.length; i += 2) if (stamps[i + 1] > stamps[i]) total += stamps[i + 1] - stamps[i];
      return Number(total) / 1e6;
    } finally {
      staging.destroy();
      resolve.destroy();
      this.querySet.destroy();
    }
  }
}
