import { InvalidConfigError } from '@kvkit/tensor-core';
import type { ParamDType } from '../numeric/param-dtype.js';

/** Options every quantized cache takes. */
export interface CommonQuantOptions {
  /**
   * dtype of everything kept in full precision (sinks, windows, outlier values) and of scales and
   * zero points; K/V are rounded to it on entry. Default 'f16' (what a GPU runtime keeps).
   */
  dtype?: ParamDType;
  /** Tokens allocated up front per buffer; capacity doubles when exceeded (default 256). */
  initialCapacity?: number;
}

export function resolveCommon(options: CommonQuantOptions, where: string): { dtype: ParamDType; initialCapacity: number } {
  const dtype = options.dtype ?? 'f16';
  if (dtype !== 'f16' && dtype !== 'f32') throw new InvalidConfigError(`${where}: dtype must be f16 or f32, got ${dtype}`);
  const initialCapacity = options.initialCapacity ?? 256;
  integer(initialCapacity, 'initialCapacity', where, 1);
  return { dtype, initialCapacity };
}

/** Checks an integer option in [min, max]. */
export function integer(value: number, name: string, where: string, min = 0, max = Infinity): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`${where}: ${name} must be an integer in [${min}, ${max === Infinity ? '∞' : max}], got ${value}`, {
      [name]: value,
    });
  }
  return value;
}

/** Checks a number option in [min, max]. */
export function fraction(value: number, name: string, where: string, min = 0, max = 1): number {
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw new InvalidConfigError(`${where}: ${name} must be a number in [${min}, ${max}], got ${value}`, { [name]: value });
  }
  return value;
}

/** Checks that `value` is one of `allowed`. */
export function oneOf<T extends string | number | boolean>(value: T, allowed: readonly T[], name: string, where: string): T {
  if (!allowed.includes(value))
    throw new InvalidConfigError(`${where}: ${name} must be one of ${allowed.join(', ')}, got ${value}`, { [name]: value });
  return value;
}

/** Outliers kept per vector for a share of the channels: at least one when the share is positive. */
export function outlierCount(share: number, headDim: number): number {
  return share > 0 ? Math.min(headDim - 1, Math.max(1, Math.round(share * headDim))) : 0;
}
