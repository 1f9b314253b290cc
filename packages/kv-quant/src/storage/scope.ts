import type { Tensor } from '@kvkit/tensor-core';

/** Collects intermediate tensors of a computation and disposes them together. */
export class Scope {
  private readonly held: Tensor[] = [];

  /** Registers `t` for disposal and returns it. */
  track<T extends Tensor>(t: T): T {
    this.held.push(t);
    return t;
  }

  /** Disposes every tracked tensor except those in `keep`. */
  dispose(...keep: Tensor[]): void {
    for (const t of this.held) if (!keep.includes(t)) t.dispose();
    this.held.length = 0;
  }
}

/** Runs `body` with a scope; everything tracked is disposed afterwards except the returned tensor. */
export function scoped<T extends Tensor>(body: (s: Scope) => T): T {
  const scope = new Scope();
  let result: T | undefined;
  try {
    result = body(scope);
    return result;
  } finally {
    if (result) scope.dispose(result);
    else scope.dispose();
  }
}
