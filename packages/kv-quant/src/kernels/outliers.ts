import { type CpuBackend, hostView, InvalidConfigError, registerKernel, runKernel, ShapeMismatchError, type Tensor } from '@kvkit/tensor-core';
import type { ParamDType } from '../numeric/param-dtype.js';
import { registerOutlierCudaKernels } from '../cuda/outliers.js';
import { registerOutlierWebGpuKernels } from '../webgpu/outliers.js';
import { lazyRegistration, output, readFloats, rowsOf } from './host.js';

/**
 * Dense-and-sparse split (KVQuant, QAQ): in every row (one token's vector) the `count` entries
 * farthest from the row's center (0, or the row mean) are outliers. Their exact values go to a
 * sparse side store (channel index + value); in the dense remainder they are replaced by the mean
 * of the row's inliers, which lies inside the inlier range and so does not widen it.
 */
export interface OutlierAttrs {
  count: number;
  center: 'zero' | 'mean';
  valueDType: ParamDType;
  indexDType: 'u8' | 'i32';
}

export interface OutlierSplit {
  /** [..., count] channel indices, ascending within a row. */
  indices: Tensor;
  /** valueDType [..., count]: the outliers' values, taken from `source`. */
  values: Tensor;
  /** f32 [..., d]: the selection tensor with outliers replaced by the inlier mean. */
  inliers: Tensor;
}

declare module '@kvkit/tensor-core' {
  interface KernelSignatures {
    kvSplitOutliers: { inputs: [Tensor, Tensor]; attrs: OutlierAttrs; output: OutlierSplit };
    kvMergeOutliers: { inputs: [Tensor, Tensor, Tensor]; attrs: Record<string, never>; output: Tensor };
  }
}

/**
 * The `count` indices of `row` farthest from `center`, ascending. The distance is |x − center| in
 * float64; a NaN distance (x NaN, center NaN, or ∞ − ∞) ranks above +∞, so NaNs are outliers
 * first; equal distances (NaNs included) rank by index, lower first. Every backend selects so.
 */
export function outlierIndices(row: ArrayLike<number>, offset: number, length: number, count: number, center: number): number[] {
  const distance = Array.from({ length }, (_, i) => Math.abs(row[offset + i] - center));
  const order = Array.from({ length }, (_, i) => i);
  order.sort((a, b) => {
    const da = distance[a];
    const db = distance[b];
    if (Number.isNaN(da) !== Number.isNaN(db)) return Number.isNaN(da) ? -1 : 1;
    return da === db || Number.isNaN(da) ? a - b : db > da ? 1 : -1;
  });
  return order.slice(0, count).sort((a, b) => a - b);
}

export const ensureOutlierKernels = lazyRegistration(() => {
  registerKernel<'kvSplitOutliers', CpuBackend>('kvSplitOutliers', 'cpu', (backend, [select, source], attrs) => {
    const { count } = attrs;
    const { rows, length: d } = rowsOf(select);
    const x = readFloats(select, 'kvSplitOutliers');
    const src = source === select ? x : readFloats(source, 'kvSplitOutliers');
    const indices = new Int32Array(rows * count);
    const values = new Float32Array(rows * count);
    const inliers = Float32Array.from(x);
    for (let r = 0; r < rows; r++) {
      let center = 0;
      if (attrs.center === 'mean') {
        for (let i = 0; i < d; i++) center += x[r * d + i];
        center /= d;
      }
      const picked = outlierIndices(x, r * d, d, count, center);
      const isOutlier = new Uint8Array(d);
      for (let j = 0; j < count; j++) {
        isOutlier[picked[j]] = 1;
        indices[r * count + j] = picked[j];
        values[r * count + j] = src[r * d + picked[j]];
      }
      let inlierSum = 0;
      for (let i = 0; i < d; i++) if (!isOutlier[i]) inlierSum += x[r * d + i];
      const fill = d > count ? inlierSum / (d - count) : 0;
      for (let i = 0; i < d; i++) if (isOutlier[i]) inliers[r * d + i] = fill;
    }
    const lead = select.shape.slice(0, -1);
    return {
      indices: output(backend, indices, [...lead, count], attrs.indexDType),
      values: output(backend, values, [...lead, count], attrs.valueDType),
      inliers: output(backend, inliers, select.shape, 'f32'),
    };
  });
  registerKernel<'kvMergeOutliers', CpuBackend>('kvMergeOutliers', 'cpu', (backend, [dense, indicesT, valuesT]) => {
    const { rows, length: d } = rowsOf(dense);
    const count = indicesT.shape[indicesT.rank - 1];
    const out = Float32Array.from(readFloats(dense, 'kvMergeOutliers')); // written below: a copy, not the input's view
    const indices = hostView(indicesT);
    const values = readFloats(valuesT, 'kvMergeOutliers');
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < count; j++) {
        const c = indices[r * count + j];
        if (c >= 0 && c < d) out[r * d + c] = values[r * count + j]; // outside the row: skipped (every backend)
      }
    }
    return output(backend, out, dense.shape, 'f32');
  });
  registerOutlierCudaKernels();
  registerOutlierWebGpuKernels();
});

/** Splits the `count` outliers of every row of `select` off (values taken from `source`, default `select`). */
export function splitOutliers(select: Tensor, attrs: OutlierAttrs, source: Tensor = select): OutlierSplit {
  const d = select.shape[select.rank - 1];
  if (!Number.isInteger(attrs.count) || attrs.count < 1 || attrs.count >= d) {
    throw new InvalidConfigError(`splitOutliers: the outlier count per vector must be an integer in [1, ${d - 1}], got ${attrs.count}`);
  }
  if (attrs.indexDType === 'u8' && d > 256) throw new InvalidConfigError(`splitOutliers: u8 indices cannot address ${d} channels`);
  if (source.shape.join() !== select.shape.join()) throw new ShapeMismatchError('splitOutliers: source and select must have one shape');
  ensureOutlierKernels();
  return runKernel('kvSplitOutliers', [select, source], attrs);
}

/**
 * `dense` (f32 [..., d]) with the sparse outliers written back: value j of a row goes to channel
 * indices[j]; a later j wins over an earlier one with the same index, an index outside [0, d) is skipped.
 */
export function mergeOutliers(dense: Tensor, indices: Tensor, values: Tensor): Tensor {
  if (indices.shape.slice(0, -1).join() !== dense.shape.slice(0, -1).join() || values.shape.join() !== indices.shape.join()) {
    throw new ShapeMismatchError(
      `mergeOutliers: indices [${indices.shape.join(', ')}] and values [${values.shape.join(', ')}] do not fit dense [${dense.shape.join(', ')}]`
    );
  }
  ensureOutlierKernels();
  return runKernel('kvMergeOutliers', [dense, indices, values], {});
}
