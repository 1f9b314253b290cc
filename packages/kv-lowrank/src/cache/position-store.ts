import { type Backend, type Tensor, reshape, tensor } from '@kvkit/tensor-core';
import { GrowableBuffer } from './growable-buffer.js';

/**
 * Absolute positions of stored tokens: a host copy (for RoPE and selection logic) and a device
 * mirror (what the attention kernel reads), both growing by doubling.
 */
export class PositionStore {
  private host: Int32Array;
  private readonly device: GrowableBuffer;
  private readonly backend: Backend;

  constructor(backend: Backend, initialCapacity: number) {
    this.backend = backend;
    this.host = new Int32Array(Math.max(1, initialCapacity));
    this.device = new GrowableBuffer(backend, 1, 1, 'i32', initialCapacity);
  }

  get length(): number {
    return this.device.length;
  }

  reserve(total: number): void {
    this.device.reserve(total);
    if (total > this.host.length) {
      let capacity = this.host.length;
      while (capacity < total) capacity *= 2;
      const grown = new Int32Array(capacity);
      grown.set(this.host.subarray(0, this.length));
      this.host = grown;
    }
  }

  append(positions: Int32Array): void {
    if (positions.length === 0) return;
    this.reserve(this.length + positions.length);
    const at = this.length;
    const rows = tensor(positions, [1, positions.length, 1], { dtype: 'i32', backend: this.backend });
    try {
      this.device.append(rows);
    } finally {
      rows.dispose();
    }
    this.host.set(positions, at);
  }

  /** Host positions [start, end) (a view: copy before mutating the store). */
  values(start = 0, end = this.length): Int32Array {
    return this.host.subarray(start, end);
  }

  /** Device positions [start, end) as i32 [n] (dispose it). */
  tensor(start = 0, end = this.length): Tensor {
    const view = this.device.view(start, end);
    try {
      return reshape(view, [end - start]);
    } finally {
      view.dispose();
    }
  }

  /** Host + device copies of the stored positions, and allocated-but-empty capacity. */
  bytes(): { used: number; reserved: number } {
    const device = this.device.bytes();
    return { used: device.used + 4 * this.length, reserved: device.reserved + 4 * (this.host.length - this.length) };
  }

  dispose(): void {
    this.device.dispose();
  }
}
