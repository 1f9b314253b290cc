import type { Backend } from '../backend.js';
import { type DType, bytesPerElement } from '../dtype.js';
import { DisposedError, DTypeMismatchError, IndexOutOfRangeError, InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { full } from '../ops/creation.js';
import { formatShape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';

/** One tensor of a recurrent state: its shape and dtype. */
export interface RecurrentSlotSpec {
  shape: readonly number[];
  dtype: DType;
}

/**
 * What a model keeps per request beside its keys and values: one tensor per slot, zeros at first.
 * LFM2's short-convolution layers keep the last inputs of their convolution here (a slot per such
 * layer); a state-space layer would keep its convolution rows and its f32 scan state (two slots).
 */
export interface RecurrentStateSpec {
  slots: readonly RecurrentSlotSpec[];
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
    if (spec.slots.length === 0) throw new InvalidConfigError('RecurrentState: slots must list at least one slot');
    spec.slots.forEach(({ shape }, i) => {
      if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
        throw new InvalidConfigError(`RecurrentState: slot ${i}'s shape must list positive integers, got ${formatShape(shape)}`);
      }
    });
    this.tensors = [];
    try {
      for (const { shape, dtype } of spec.slots) this.tensors.push(full([...shape], 0, { dtype, backend }));
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
    const { shape, dtype } = this.spec.slots[index];
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
    if (this.disposed) return 0;
    return this.spec.slots.reduce((sum, { shape, dtype }) => sum + sizeOf([...shape]) * bytesPerElement(dtype), 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tensors) t.dispose();
  }

  private checkedSlot(slot: number, where: string): number {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.spec.slots.length) {
      throw new IndexOutOfRangeError(`RecurrentState.${where}: slot ${slot} is outside 0…${this.spec.slots.length - 1}`, { slot });
    }
    return slot;
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError('RecurrentState');
  }
}
