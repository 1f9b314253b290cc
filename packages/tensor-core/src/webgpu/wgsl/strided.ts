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
  const lines = [`fn ${name}_index(flat: u32) -> u32 {`, `  var rem = flat;`, `  var e = u_${name}_offset();`];
  for (let axis = rank - 1; axis > 0; axis--) {
    lines.push(`  { let n = u_${shapeField}(${axis}u); e = e + (rem % n) * u_${name}_strides(${axis}u); rem = rem / n; }`);
  }
  lines.push(`  return e + rem * u_${name}_strides(0u);`, `}`);
  return lines.join('\n');
}
