import type { Tensor } from '@kvkit/tensor-core';

/** Collects temporaries so one `dispose()` in a `finally` releases them all. */
export class TensorScope {
  private readonly tensors: Tensor[] = [];

  track<T extends Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }

  /** Stops tracking `t` (it outlives the scope) and returns it. */
  release<T extends Tensor>(t: T): T {
    const i = this.tensors.indexOf(t);
    if (i >= 0) this.tensors.splice(i, 1);
    return t;
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }
}
