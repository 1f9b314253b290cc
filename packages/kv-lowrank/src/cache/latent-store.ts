import { type Backend, InvalidConfigError, SUPPORTED_BITS, type Tensor, UnsupportedBitWidthError, cast, gather, tensor } from '@kvkit/tensor-core';
import { GrowableBuffer } from './growable-buffer.js';
import { QuantizedLatentStore } from './quantized-latent-store.js';

/** How latents are stored: dense f16/f32, or quantized to `bits` per number (per-token groups). */
export interface LatentStorage {
  /** Dense storage dtype, and the dtype of any full-precision window (default 'f16'). */
  dtype?: 'f16' | 'f32';
  /** Quantize latents to this many bits (2, 3, 4, 8; default: no quantization). */
  bits?: number;
  /** Latent numbers per quantization group, each with an f16 scale and minimum (default 32). */
  quantGroup?: number;
}

/** One stream of latent vectors (one head group's keys or values), [1, n, width]. */
export interface LatentStore {
  readonly length: number;
  readonly width: number;
  /** Makes room for `total` tokens (may allocate; on failure nothing changed). */
  reserve(total: number): void;
  /** Appends f32 [1, n, width] latents. */
  append(latents: Tensor): void;
  /** Forgets every token from `length` on (rolls back an append). */
  truncate(length: number): void;
  /** Every stored latent as f32 [1, length, width] (dispose it). */
  read(): Tensor;
  /** The latents of the given tokens as f32 [1, k, width] (dispose it). */
  gather(rows: Int32Array): Tensor;
  /** Resident bytes by part (latents, or codes/scales/zeros; reserved). */
  memory(): Record<string, number>;
  dispose(): void;
}

/** Validates storage options and fills their defaults. */
export function resolveLatentStorage(storage: LatentStorage | undefined, where: string): Required<Pick<LatentStorage, 'dtype'>> & LatentStorage {
  const dtype = storage?.dtype ?? 'f16';
  if (dtype !== 'f16' && dtype !== 'f32') throw new InvalidConfigError(`${where}: dtype must be 'f16' or 'f32', got ${String(dtype)}`);
  const bits = storage?.bits;
  if (bits !== undefined && bits !== 0) {
    if (!SUPPORTED_BITS.includes(bits) || bits === 1) throw new UnsupportedBitWidthError(bits, SUPPORTED_BITS.filter((b) => b > 1), where);
    const quantGroup = storage?.quantGroup ?? 32;
    if (!Number.isInteger(quantGroup) || quantGroup < 1) throw new InvalidConfigError(`${where}: quantGroup must be a positive integer, got ${quantGroup}`);
    return { dtype, bits, quantGroup };
  }
  return { dtype };
}

export function createLatentStore(backend: Backend, width: number, storage: LatentStorage, initialCapacity: number): LatentStore {
  if (storage.bits) return new QuantizedLatentStore(backend, width, storage.bits, Math.min(storage.quantGroup ?? 32, width), initialCapacity);
  return new DenseLatentStore(backend, width, storage.dtype ?? 'f16', initialCapacity);
}

/** Latents in a growing f16/f32 tensor. */
export class DenseLatentStore implements LatentStore {
  private readonly buffer: GrowableBuffer;

  constructor(
    private readonly backend: Backend,
    readonly width: number,
    dtype: 'f16' | 'f32',
    initialCapacity: number,
  ) {
    this.buffer = new GrowableBuffer(backend, 1, width, dtype, initialCapacity);
  }

  get length(): number {
    return this.buffer.length;
  }

  reserve(total: number): void {
    this.buffer.reserve(total);
  }

  append(latents: Tensor): void {
    this.buffer.append(latents);
  }

  truncate(length: number): void {
    this.buffer.truncate(length);
  }

  read(): Tensor {
    const view = this.buffer.view();
    if (view.dtype === 'f32') return view;
    try {
      return cast(view, 'f32');
    } finally {
      view.dispose();
    }
  }

  gather(rows: Int32Array): Tensor {
    const view = this.buffer.view();
    const indices = tensor(rows, [rows.length], { dtype: 'i32', backend: this.backend });
    try {
      const picked = gather(view, indices, 1);
      if (picked.dtype === 'f32') return picked;
      const out = cast(picked, 'f32');
      picked.dispose();
      return out;
    } finally {
      view.dispose();
      indices.dispose();
    }
  }

  memory(): Record<string, number> {
    const { used, reserved } = this.buffer.bytes();
    return { latents: used, reserved };
  }

  dispose(): void {
    this.buffer.dispose();
  }
}
