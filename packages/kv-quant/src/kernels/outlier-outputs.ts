import { type DType, type Shape, type Tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import type { OutlierAttrs, OutlierSplit } from './outliers.js';

/**
 * The outputs of a GPU kvSplitOutliers (indices and values [..., count], inliers f32 like `select`),
 * after checking the dtypes every device kernel supports; `rows` × `d` is the launch geometry.
 */
export function emptyOutlierSplit(
  backend: { empty(shape: Shape, dtype: DType): Tensor },
  select: Tensor,
  { count, valueDType, indexDType }: Pick<OutlierAttrs, 'count' | 'valueDType' | 'indexDType'>,
  where: string,
): { split: OutlierSplit; rows: number; d: number } {
  if (valueDType !== 'f16' && valueDType !== 'f32') throw new UnsupportedDTypeError(`${where}: outlier values must be f16 or f32, got ${valueDType}`);
  if (indexDType !== 'u8' && indexDType !== 'i32') throw new UnsupportedDTypeError(`${where}: indices must be u8 or i32, got ${indexDType}`);
  const d = select.shape[select.rank - 1];
  const lead = select.shape.slice(0, -1);
  const split = {
    indices: backend.empty([...lead, count], indexDType),
    values: backend.empty([...lead, count], valueDType),
    inliers: backend.empty(select.shape, 'f32'),
  };
  return { split, rows: d === 0 ? 0 : select.size / d, d };
}
