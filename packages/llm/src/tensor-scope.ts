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

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }
}
