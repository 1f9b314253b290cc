import { type Backend, cast, concat, slice, type Tensor, TensorScope, zeros } from '@kvkit/tensor-core';

/**
 * One side (keys or values) of a quantized cache layer: what is stored and how, for the tokens in
 * order. `stage` prepares an append without touching the stored state and returns the commit, so
 * a layer can stage keys and values and only then commit both (a failed append changes nothing).
 */
export interface KVStream {
  /** Tokens held. */
  readonly length: number;
  /** x: [heads, n, headDim] in the layer's storage dtype. */
  stage(x: Tensor): Staged;
  /** All held tokens, dequantized, in order: f32 [heads, length, headDim]. */
  decode(): Tensor;
  /** Resident bytes by part (reserved capacity included). */
  memory(): Record<string, number>;
  dispose(): void;
}

/** A prepared append: `commit` applies it, `abort` drops it; exactly one of them is called. */
export interface Staged {
  commit(): void;
  abort(): void;
}

/** Tokens [start, end) of x ([heads, n, d]) as a view. */
export function tokenRange(x: Tensor, start: number, end: number): Tensor {
  return slice(x, [0, start, 0], [x.shape[0], end, x.shape[2]]);
}

/** Joins token blocks ([heads, n_i, d], any float dtype) into one f32 tensor; takes ownership of the parts. */
export function joinTokens(parts: Tensor[], backend: Backend, heads: number, headDim: number): Tensor {
  const scope = new TensorScope();
  for (const p of parts) scope.track(p);
  const blocks = parts.filter((p) => p.shape[1] > 0).map((p) => (p.dtype === 'f32' ? p : scope.track(cast(p, 'f32'))));
  let result: Tensor;
  if (blocks.length === 0) result = zeros([heads, 0, headDim], { backend });
  else if (blocks.length === 1) result = blocks[0];
  else result = concat(blocks, 1);
  scope.dispose(result);
  return result;
}
