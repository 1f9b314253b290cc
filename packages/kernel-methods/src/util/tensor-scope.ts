import type { Tensor } from '@kvkit/tensor-core';

/**
 * Runs `body` with a `keep` function that registers intermediate tensors; every registered tensor
 * except the one returned is disposed afterwards, so tile computations on device backends do not
 * leak buffers.
 */
export function withTensorScope(body: (track: <T extends Tensor>(t: T) => T) => Tensor): Tensor {
  const tracked: Tensor[] = [];
  let result: Tensor | undefined;
  try {
    result = body((t) => {
      tracked.push(t);
      return t;
    });
    return result;
  } finally {
    for (const t of tracked) if (t !== result) t.dispose();
  }
}
