import { IndexOutOfRangeError, InvalidConfigError, ShapeMismatchError } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C order) strides in elements. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function assertValidShape(shape: Shape, where: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeMismatchError(`${where}: shape ${formatShape(shape)} has an invalid dimension ${d}; dimensions are integers >= 0`, {
        shape,
      });
    }
  }
}

/** Resolves a possibly negative axis against `rank`. */
export function normalizeAxis(axis: number, rank: number, where: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= rank) {
    throw new IndexOutOfRangeError(`${where}: axis ${axis} is out of range for a tensor of rank ${rank}`, { axis, rank });
  }
  return a;
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape, where: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeMismatchError(`${where}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together`, { a, b });
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides that read `shape`/`strides` as if broadcast to `target` (0 along broadcast axes).
 */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const shift = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[i + shift] = shape[i] === 1 ? 0 : strides[i];
  return out;
}

/** Resolves one -1 entry of a reshape target. */
export function resolveReshape(size: number, target: Shape, where: string): number[] {
  const out = [...target];
  const unknown = out.indexOf(-1);
  if (unknown !== out.lastIndexOf(-1)) throw new InvalidConfigError(`${where}: at most one dimension may be -1`, { target });
  if (unknown >= 0) {
    const known = out.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
    if (known === 0 || size % known !== 0) {
      throw new ShapeMismatchError(`${where}: cannot reshape ${size} elements into ${formatShape(target)}`, { size, target });
    }
    out[unknown] = size / known;
  }
  assertValidShape(out, where);
  if (sizeOf(out) !== size) {
    throw new ShapeMismatchError(`${where}: cannot reshape ${size} elements into ${formatShape(target)}`, { size, target });
  }
  return out;
}
