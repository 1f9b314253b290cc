import { assertDType, type DType } from '../dtype.js';
import { IndexOutOfRangeError, InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { formatShape, normalizeAxis, resolveReshape, type Shape, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertSameDType } from './validate.js';

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    contiguous: { inputs: [Tensor]; attrs: Record<string, never>; output: Tensor };
    cast: { inputs: [Tensor]; attrs: { dtype: DType }; output: Tensor };
    concat: { inputs: Tensor[]; attrs: { axis: number }; output: Tensor };
    /** Writes `source` into the view `target` in place. */
    assign: { inputs: [Tensor, Tensor]; attrs: Record<string, never>; output: void };
  }
}

/** A row-major copy of `t` (a new tensor even when `t` is already contiguous). */
export function contiguous(t: Tensor): Tensor {
  return runKernel('contiguous', [t], {});
}

/** `t` viewed with a new shape (one dimension may be -1). Copies only when `t` is not contiguous. */
export function reshape(t: Tensor, shape: Shape): Tensor {
  const target = resolveReshape(t.size, shape, 'reshape');
  if (t.isContiguous()) return t.view(target, contiguousStridesOf(target), t.offset);
  const packed = contiguous(t);
  const out = packed.view(target, contiguousStridesOf(target), 0);
  packed.dispose();
  return out;
}

function contiguousStridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** A view with axes permuted (default: reversed). No data moves. */
export function transpose(t: Tensor, perm?: readonly number[]): Tensor {
  const order = perm ? perm.map((a) => normalizeAxis(a, t.rank, 'transpose')) : [...t.shape.keys()].reverse();
  if (order.length !== t.rank || new Set(order).size !== t.rank) {
    throw new InvalidConfigError(`transpose: ${JSON.stringify(perm)} is not a permutation of ${t.rank} axes`, { perm });
  }
  return t.view(
    order.map((a) => t.shape[a]),
    order.map((a) => t.strides[a]),
    t.offset,
  );
}

/**
 * A view of `t[starts[i] : ends[i]]` along each axis (missing entries: the whole axis). Negative
 * indices count from the end. No data moves.
 */
export function slice(t: Tensor, starts: readonly number[], ends?: readonly (number | undefined)[]): Tensor {
  if (starts.length > t.rank || (ends && ends.length > t.rank)) {
    throw new IndexOutOfRangeError(`slice: more bounds than the ${t.rank} axes of ${formatShape(t.shape)}`, { starts, ends });
  }
  const shape = [...t.shape];
  let offset = t.offset;
  for (let axis = 0; axis < t.rank; axis++) {
    const dim = t.shape[axis];
    const rawStart = starts[axis] ?? 0;
    const rawEnd = ends?.[axis] ?? dim;
    const start = rawStart < 0 ? rawStart + dim : rawStart;
    const end = rawEnd < 0 ? rawEnd + dim : rawEnd;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > dim || start > end) {
      throw new IndexOutOfRangeError(`slice: [${rawStart}, ${rawEnd}) is out of range for axis ${axis} of size ${dim}`, {
        axis,
        start: rawStart,
        end: rawEnd,
        size: dim,
      });
    }
    shape[axis] = end - start;
    offset += start * t.strides[axis];
  }
  return t.view(shape, t.strides, offset);
}

/** A view with a size-1 axis inserted at `axis`. */
export function expandDims(t: Tensor, axis: number): Tensor {
  const a = normalizeAxis(axis < 0 ? axis + t.rank + 1 : axis, t.rank + 1, 'expandDims');
  const shape = [...t.shape];
  const strides = [...t.strides];
  shape.splice(a, 0, 1);
  strides.splice(a, 0, 0);
  return t.view(shape, strides, t.offset);
}

/** A view without the given size-1 axes (default: all of them). */
export function squeeze(t: Tensor, axes?: readonly number[]): Tensor {
  const drop = new Set(axes ? axes.map((a) => normalizeAxis(a, t.rank, 'squeeze')) : t.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  for (const a of drop) {
    if (t.shape[a] !== 1) throw new ShapeMismatchError(`squeeze: axis ${a} has size ${t.shape[a]}, not 1`, { shape: t.shape });
  }
  return t.view(
    t.shape.filter((_, i) => !drop.has(i)),
    t.strides.filter((_, i) => !drop.has(i)),
    t.offset,
  );
}

/** `t` converted to `dtype` (floats round to nearest even; float → integer truncates toward zero). */
export function cast(t: Tensor, dtype: DType): Tensor {
  assertDType(dtype, 'cast');
  return runKernel('cast', [t], { dtype });
}

/** Joins tensors along `axis`; all other dimensions and the dtype must match. */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new InvalidConfigError('concat: needs at least one tensor');
  const first = tensors[0];
  const a = normalizeAxis(axis, first.rank, 'concat');
  for (const t of tensors) {
    assertSameDType(first, t, 'concat');
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeMismatchError(`concat: ${formatShape(t.shape)} does not match ${formatShape(first.shape)} outside axis ${a}`, {
        shapes: tensors.map((x) => x.shape),
      });
    }
  }
  return runKernel('concat', [...tensors], { axis: a });
}

/** Writes `source` into the view `target` in place (shapes and dtypes must match exactly). */
export function assign(target: Tensor, source: Tensor): void {
  if (!shapesEqual(target.shape, source.shape)) {
    throw new ShapeMismatchError(`assign: source ${formatShape(source.shape)} does not match target ${formatShape(target.shape)}`, {
      target: target.shape,
      source: source.shape,
    });
  }
  assertSameDType(target, source, 'assign');
  if (target.strides.some((s, i) => s === 0 && target.shape[i] > 1)) {
    throw new InvalidConfigError('assign: the target view is broadcast (stride 0); writing it would be ambiguous');
  }
  runKernel('assign', [target, source], {});
}
