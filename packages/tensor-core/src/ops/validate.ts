import { type DType, isFloatDType } from '../dtype.js';
import { DTypeMismatchError, IndexOutOfRangeError, ShapeMismatchError, UnsupportedDTypeError } from '../errors.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';

export function assertFloat(t: Tensor, where: string, name = 'input'): void {
  if (!isFloatDType(t.dtype)) {
    throw new UnsupportedDTypeError(`${where}: ${name} must be a float tensor (f32, f16, bf16), got ${t.dtype}`, { dtype: t.dtype });
  }
}

export function assertDTypeIn(t: Tensor, allowed: readonly DType[], where: string, name = 'input'): void {
  if (!allowed.includes(t.dtype)) {
    throw new UnsupportedDTypeError(`${where}: ${name} has dtype ${t.dtype}; supported: ${allowed.join(', ')}`, {
      dtype: t.dtype,
      allowed,
    });
  }
}

export function assertSameDType(a: Tensor, b: Tensor, where: string): void {
  if (a.dtype !== b.dtype) {
    throw new DTypeMismatchError(`${where}: dtypes differ (${a.dtype} vs ${b.dtype}); cast one of them first`, {
      a: a.dtype,
      b: b.dtype,
    });
  }
}

export function assertRank(t: Tensor, ranks: number | readonly number[], where: string, name = 'input'): void {
  const allowed = typeof ranks === 'number' ? [ranks] : ranks;
  if (!allowed.includes(t.rank)) {
    throw new ShapeMismatchError(`${where}: ${name} must have rank ${allowed.join(' or ')}, got shape ${formatShape(t.shape)}`, {
      shape: t.shape,
    });
  }
}

export function assertMinRank(t: Tensor, min: number, where: string, name = 'input'): void {
  if (t.rank < min) {
    throw new ShapeMismatchError(`${where}: ${name} must have rank >= ${min}, got shape ${formatShape(t.shape)}`, { shape: t.shape });
  }
}

/** Checks indices against `size` where they can be read synchronously (device backends check nothing). */
export function assertIndicesInRange(indices: Tensor, size: number, where: string): void {
  if (!indices.backend.synchronous) return;
  const values = indices.readSync();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 0 || v >= size) {
      throw new IndexOutOfRangeError(`${where}: index ${v} at position ${i} is out of range [0, ${size})`, { index: v, position: i, size });
    }
  }
}
