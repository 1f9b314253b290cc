import { type Tensor, concat, type TensorScope } from '@kvkit/tensor-core';
import { tokenRange } from './head-tensors.js';
import { asF32 } from './as-f32.js';

/** Recent tokens a layer keeps whole: keys and values [kvHeads, w, headDim] and their positions. */
export interface RecentWindow {
  keys: Tensor;
  values: Tensor;
  positions: Int32Array;
}

/** The window followed by the appended tokens, as f32 tensors (tracked in `scope`) and positions. */
export function windowThenNew(window: RecentWindow | undefined, k: Tensor, v: Tensor, positions: Int32Array, scope: TensorScope): RecentWindow {
  const held = window?.positions.length ?? 0;
  const all = new Int32Array(held + positions.length);
  if (window) all.set(window.positions);
  all.set(positions, held);
  if (!window) return { keys: asF32(scope, k), values: asF32(scope, v), positions: all };
  const join = (a: Tensor, b: Tensor) => scope.track(concat([asF32(scope, a), asF32(scope, b)], 1));
  return { keys: join(window.keys, k), values: join(window.values, v), positions: all };
}

/** Tokens [from, end) of `all` as a new window in `dtype` (owned by the caller), or undefined when empty. */
export function windowTail(all: RecentWindow, from: number, dtype: 'f16' | 'f32'): RecentWindow | undefined {
  const total = all.positions.length;
  if (from >= total) return undefined;
  return { keys: tokenRange(all.keys, from, total, dtype), values: tokenRange(all.values, from, total, dtype), positions: all.positions.slice(from) };
}

/** Releases a window's tensors. */
export function disposeWindow(window: RecentWindow | undefined): void {
  window?.keys.dispose();
  window?.values.dispose();
}
