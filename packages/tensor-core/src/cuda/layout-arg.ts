import { InvalidConfigError } from '../errors.js';
import { contiguousStrides, type Shape } from '../shape.js';
import type { KernelArg } from './runtime-contract.js';

/** KV_MAX_RANK in the prelude. */
export const MAX_RANK = 8;
/** sizeof(KvLayout): shape[8] + stride[8] + offset (all int64) + rank + reserved (int32). */
export const LAYOUT_BYTES = 8 * MAX_RANK * 2 + 8 + 8;

export interface StridedView {
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}

function writeI64(view: DataView, at: number, value: number): void {
  const low = ((value % 2 ** 32) + 2 ** 32) % 2 ** 32;
  view.setUint32(at, low, true);
  view.setInt32(at + 4, Math.floor((value - low) / 2 ** 32), true);
}

/**
 * Merges neighbouring axes that every view walks as one (stride[i] = stride[i+1]·shape[i+1] in all
 * of them) and drops size-1 axes, so kernels index fewer dimensions. The views share one shape.
 */
export function collapseViews(shape: Shape, views: readonly { strides: readonly number[]; offset: number }[]): { shape: number[]; views: StridedView[] } {
  const keep = [...shape.keys()].filter((i) => shape[i] !== 1);
  let dims = keep.map((i) => ({ size: shape[i], strides: views.map((v) => v.strides[i]) }));
  const merged: typeof dims = [];
  for (const dim of dims) {
    const last = merged[merged.length - 1];
    if (last && last.strides.every((s, k) => s === dim.strides[k] * dim.size)) {
      merged[merged.length - 1] = { size: last.size * dim.size, strides: dim.strides };
    } else {
      merged.push(dim);
    }
  }
  dims = merged;
  return {
    shape: dims.map((d) => d.size),
    views: views.map((v, k) => ({ shape: dims.map((d) => d.size), strides: dims.map((d) => d.strides[k]), offset: v.offset })),
  };
}

/** The bytes of a `KvLayout` for `view` (after collapsing it has rank ≤ 8, or this throws). */
export function layoutBytes(view: StridedView): Uint8Array {
  if (view.shape.length > MAX_RANK) {
    throw new InvalidConfigError(`cuda: a view of rank ${view.shape.length} (after merging contiguous axes) exceeds the kernels' ${MAX_RANK}`, {
      shape: view.shape,
    });
  }
  const bytes = new Uint8Array(LAYOUT_BYTES);
  const data = new DataView(bytes.buffer);
  view.shape.forEach((d, i) => writeI64(data, 8 * i, d));
  view.strides.forEach((s, i) => writeI64(data, 8 * MAX_RANK + 8 * i, s));
  writeI64(data, 16 * MAX_RANK, view.offset);
  data.setInt32(16 * MAX_RANK + 8, view.shape.length, true);
  return bytes;
}

export function layoutArg(view: StridedView): KernelArg {
  return { type: 'bytes', value: layoutBytes(view), align: 8 };
}

/** A row-major view of `shape` starting at element `offset`. */
export function contiguousView(shape: Shape, offset = 0): StridedView {
  return { shape, strides: contiguousStrides(shape), offset };
}
