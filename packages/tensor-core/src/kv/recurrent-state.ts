import { type DType, bytesPerElement } from '../dtype.js';
import { DisposedError, DTypeMismatchError, IndexOutOfRangeError, InvalidConfigError, ShapeMismatchError } from '../errors.js';
import type { Backend } from '../backend.js';
import { full } from '../ops/creation.js';
import { formatShape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';

/**
 * What a model keeps per request beside its keys and values: `slots` tensors of one `shape` and
 * `dtype`, zeros at first. LFM2's short-convolution layers keep the last inputs of their
 * convolution here (one slot per such layer), so that decoding continues the sequence.
 */
export interface RecurrentStateSpec {
  slots: number;
  shape: readonly number[];
  dtype: DType;
}

/**
 * A request's recurrent state, owned by its cache (`KVCache.recurrentState`): created with the
 * cache, counted in its memory report (part `recurrent`), disposed with it. A slot is replaced
 * whole by `write`, never edited in place, so a tensor read from it stays valid until the next write.
 */
export class RecurrentState {
  private readonly tensors: Tensor[];
  private disposed = false;

  constructor(
    readonly spec: RecurrentStateSpec,
    backend: Backend,
  ) {
    const { slots, shape, dtype } = spec;
    if (!Number.isInteger(slots) || slots <= 0) throw new InvalidConfigError(`RecurrentState: slots must be a positive integer, got ${slots}`);
    if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new InvalidConfigError(`RecurrentState: shape must list positive integers, got ${formatShape(shape)}`);
    }
    this.tensors = [];
    try {
      for (let i = 0; i < slots; i++) this.tensors.push(full([...shape], 0, { dtype, backend }));
    } catch (error) {
      for (const t of this.tensors) t.dispose();
      throw error;
    }
  }

  /** Slot `slot`'s tensor (owned by the state: do not dispose it). */
  read(slot: number): Tensor {
    this.assertAlive();
    return this.tensors[this.checkedSlot(slot, 'read')];
  }

  /** Replaces slot `slot` with `value`, which the state takes over (the old tensor is disposed). */
  write(slot: number, value: Tensor): void {
    this.assertAlive();
    const index = this.checkedSlot(slot, 'write');
    const { shape, dtype } = this.spec;
    if (value.shape.length !== shape.length || value.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeMismatchError(`RecurrentState.write: slot ${slot} holds ${formatShape(shape)}, got ${formatShape(value.shape)}`);
    }
    if (value.dtype !== dtype) throw new DTypeMismatchError(`RecurrentState.write: slot ${slot} holds ${dtype}, got ${value.dtype}`);
    const old = this.tensors[index];
    this.tensors[index] = value;
    if (old !== value) old.dispose();
  }

  /** Bytes resident: every slot's tensor. */
  get bytes(): number {
    return this.disposed ? 0 : this.spec.slots * sizeOf([...this.spec.shape]) * bytesPerElement(this.spec.dtype);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tensors) t.dispose();
  }

  private checkedSlot(slot: number, where: string): number {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.spec.slots) {
      throw new IndexOutOfRangeError(`RecurrentState.${where}: slot ${slot} is outside 0…${this.spec.slots - 1}`, { slot });
    }
    return slot;
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError('RecurrentState');
  }
}
