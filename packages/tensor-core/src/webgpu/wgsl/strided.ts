import type { UniformField } from './uniforms.js';

/**
 * Strided addressing. Tensors are views (offset + strides over a shared buffer), so kernels read
 * them through index functions whose offset, shape and strides come from uniforms; the pipeline
 * depends only on the rank.
 */

/** Shape with size-1 axes dropped and axes merged where every operand is contiguous across them. */
export function coalesceDims(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const size = shape[axis];
    if (size === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => s[axis] === outStrides[k][last] * outShape[last])) {
      outShape[last] *= size;
      continue;
    }
    outShape.push(size);
    strides.forEach((s, k) => outStrides[k].push(s[axis]));
  }
  return { shape: outShape.reverse(), strides: outStrides.map((s) => s.reverse()) };
}

/** True when `strides` walk `shape` in row-major order with no gaps (size-1 axes ignored). */
export function isRowMajor(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (strides[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Uniforms of an operand read through `NAME_index`: its offset, plus its strides unless contiguous. */
export function operandUniforms(name: string, rank: number, contiguous: boolean): UniformField[] {
  const fields: UniformField[] = [{ name: `${name}_offset`, type: 'u32' }];
  if (!contiguous && rank > 0) fields.push({ name: `${name}_strides`, type: 'u32', length: rank });
  return fields;
}

/**
 * `fn NAME_index(flat: u32) -> u32`: the buffer element of the operand at row-major position
 * `flat` of the iteration shape (uniform array `shapeField`).
 */
export function indexFunction(name: string, rank: number, contiguous: boolean, shapeField = 'shape'): string {
  if (contiguous || rank === 0) return `fn ${name}_index(flat: u32) -> u32 { return u_${name}_offset() + ${rank === 0 ? '0u' : 'flat'}; }`;
  return unravelFunction(`${name}_index`, rank, shapeField, `${name}_strides`, `u_${name}_offset()`);
}

/**
 * `fn FN(flat: u32) -> u32`: `start + Σ coordinate(axis) · stride(axis)`, where the coordinates
 * unravel `flat` over the uniform array `shapeField` and the strides are the uniform array `stridesField`.
 */
export function unravelFunction(fn: string, rank: number, shapeField: string, stridesField: string, start = '0u'): string {
  if (rank === 0) return `fn ${fn}(flat: u32) -> u32 { return ${start}; }`;
  const lines = [`fn ${fn}(flat: u32) -> u32 {`, `  var rem = flat;`, `  var e = ${start};`];
  for (let axis = rank - 1; axis > 0; axis--) {
    lines.push(`  { let n = u_${shapeField}(${axis}u); e = e + (rem % n) * u_${stridesField}(${axis}u); rem = rem / n; }`);
  }
  lines.push(`  return e + rem * u_${stridesField}(0u);`, `}`);
  return lines.join('\n');
}

/**
 * Row access to a tensor seen as [rows, last]: uniforms `NAME_offset`, `NAME_lead` (strides of the
 * leading axes, unravelled over `NAME_lead_shape`) and `NAME_last` (stride of the last axis).
 * Generates `fn NAME_elem(r: u32, c: u32) -> u32`.
 */
export function lastAxisUniforms(name: string, rank: number): UniformField[] {
  const lead = rank - 1;
  return [
    { name: `${name}_offset`, type: 'u32' },
    { name: `${name}_last`, type: 'u32' },
    ...(lead > 0
      ? [
          { name: `${name}_lead_shape`, type: 'u32' as const, length: lead },
          { name: `${name}_lead`, type: 'u32' as const, length: lead },
        ]
      : []),
  ];
}

export function lastAxisFunction(name: string, rank: number): string {
  return `${unravelFunction(`${name}_row`, rank - 1, `${name}_lead_shape`, `${name}_lead`, `u_${name}_offset()`)}
fn ${name}_elem(r: u32, c: u32) -> u32 { return ${name}_row(r) + c * u_${name}_last(); }`;
}

export function lastAxisValues(name: string, shape: readonly number[], strides: readonly number[], offset: number): Record<string, number | number[]> {
  const values: Record<string, number | number[]> = { [`${name}_offset`]: offset, [`${name}_last`]: strides[strides.length - 1] };
  if (shape.length > 1) {
    values[`${name}_lead_shape`] = shape.slice(0, -1);
    values[`${name}_lead`] = strides.slice(0, -1);
  }
  return values;
}

/**
 * `fn FN(flat: u32, sub: u32) -> u32`: like `unravelFunction`, but the coordinate along the axis
 * `u_axis()` is replaced by `sub` (gather and scatter address one tensor by another's positions).
 */
export function substitutedIndexFunction(fn: string, rank: number, shapeField: string, stridesField: string, start: string): string {
  const lines = [`fn ${fn}(flat: u32, sub: u32) -> u32 {`, `  var rem = flat;`, `  var e = ${start};`];
  for (let axis = rank - 1; axis >= 0; axis--) {
    const coordinate = axis > 0 ? `rem % u_${shapeField}(${axis}u)` : 'rem';
    lines.push(`  { let c = select(${coordinate}, sub, u_axis() == ${axis}u); e = e + c * u_${stridesField}(${axis}u);${axis > 0 ? ` rem = rem / u_${shapeField}(${axis}u);` : ''} }`);
  }
  lines.push(`  return e;`, `}`);
  return lines.join('\n');
}
