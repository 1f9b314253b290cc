import type { Tensor } from '@kvkit/tensor-core';

/**
 * Collects intermediate tensors of one computation and releases them together, so a forward pass
 * returns its storage to the backend (and its pool) instead of waiting for garbage collection.
 */
export class TensorScope {
  private readonly tensors: Tensor[] = [];

  /** Registers `t` for release by `dispose()` and returns it. */
  track<T extends Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }

  /** Takes `t` back out of the scope (the caller keeps it). */
  untrack<T extends Tensor>(t: T): T {
    const at = this.tensors.lastIndexOf(t);
    if (at >= 0) this.tensors.splice(at, 1);
    return t;
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }
}
