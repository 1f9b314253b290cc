import type { Tensor } from './tensor.js';

/**
 * Collects the intermediate tensors of one computation and releases them together, so a
 * computation returns its storage to the backend (and its pool) as soon as it ends instead of
 * waiting for garbage collection:
 *
 * ```ts
 * const scope = new TensorScope();
 * try {
 *   const h = scope.track(rmsNorm(x, w, eps));
 *   return matmul(h, v); // the result is not tracked: the caller owns it
 * } finally {
 *   scope.dispose();
 * }
 * ```
 */
export class TensorScope {
  private readonly tensors: Tensor[] = [];

  /** Registers `t` for release by `dispose()` and returns it. */
  track<T extends Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }

  /** Takes `t` back out of the scope (it outlives the scope; the caller owns it) and returns it. */
  untrack<T extends Tensor>(t: T): T {
    const at = this.tensors.lastIndexOf(t);
    if (at >= 0) this.tensors.splice(at, 1);
    return t;
  }

  /** Tensors tracked and not yet released. */
  get size(): number {
    return this.tensors.length;
  }

  /**
   * Releases every tracked tensor except those in `keep` (which the caller then owns), and empties
   * the scope. Releasing a tensor twice is harmless (`Tensor.dispose` is idempotent).
   */
  dispose(...keep: Tensor[]): void {
    for (const t of this.tensors) if (!keep.includes(t)) t.dispose();
    this.tensors.length = 0;
  }
}
