import { sizeOf } from '../../shape.js';
import { coalesceDims, unravelFunction } from '../wgsl/strided.js';
import type { UniformField, UniformValues } from '../wgsl/uniforms.js';

/**
 * A tensor seen as rows: the kept axes index rows, the reduced axes index positions within a row
 * (softmax: one axis; norms: the last; reductions: any set). Each operand (input views and the
 * output) gets `NAME_row(r)` (buffer element where row r starts) and `NAME_at(l)` (offset of
 * position l within a row), from uniforms, so views work and one pipeline serves every shape of a rank.
 */
export interface RowLayout {
  rows: number;
  length: number;
  keptShape: number[];
  reducedShape: number[];
  kept: number[][];
  reduced: number[][];
  offsets: number[];
  names: string[];
}

export function rowLayout(shape: readonly number[], axes: readonly number[], operands: readonly { name: string; strides: readonly number[]; offset: number }[]): RowLayout {
  const keptAxes = [...shape.keys()].filter((a) => !axes.includes(a));
  const keptPart = coalesceDims(
    keptAxes.map((a) => shape[a]),
    operands.map((o) => keptAxes.map((a) => o.strides[a])),
  );
  const reducedPart = coalesceDims(
    axes.map((a) => shape[a]),
    operands.map((o) => axes.map((a) => o.strides[a])),
  );
  return {
    rows: sizeOf(keptAxes.map((a) => shape[a])),
    length: sizeOf(axes.map((a) => shape[a])),
    keptShape: keptPart.shape,
    reducedShape: reducedPart.shape,
    kept: keptPart.strides,
    reduced: reducedPart.strides,
    offsets: operands.map((o) => o.offset),
    names: operands.map((o) => o.name),
  };
}

/** Pipeline-key part: the ranks of the two coalesced parts. */
export function rowKey(layout: RowLayout): string {
  return `k${layout.keptShape.length}r${layout.reducedShape.length}`;
}

export function rowUniforms(layout: RowLayout): UniformField[] {
  const kr = layout.keptShape.length;
  const rr = layout.reducedShape.length;
  const fields: UniformField[] = [
    { name: 'rows', type: 'u32' },
    { name: 'len', type: 'u32' },
  ];
  if (kr > 0) fields.push({ name: 'kept_shape', type: 'u32', length: kr });
  if (rr > 0) fields.push({ name: 'red_shape', type: 'u32', length: rr });
  for (const name of layout.names) {
    fields.push({ name: `${name}_offset`, type: 'u32' });
    if (kr > 0) fields.push({ name: `${name}_kept`, type: 'u32', length: kr });
    if (rr > 0) fields.push({ name: `${name}_red`, type: 'u32', length: rr });
  }
  return fields;
}

export function rowFunctions(layout: RowLayout): string {
  const kr = layout.keptShape.length;
  const rr = layout.reducedShape.length;
  return layout.names
    .map((name) =>
      [
        unravelFunction(`${name}_row`, kr, 'kept_shape', `${name}_kept`, `u_${name}_offset()`),
        unravelFunction(`${name}_at`, rr, 'red_shape', `${name}_red`),
      ].join('\n'),
    )
    .join('\n');
}

export function rowValues(layout: RowLayout): UniformValues {
  const values: UniformValues = { rows: layout.rows, len: layout.length };
  if (layout.keptShape.length > 0) values.kept_shape = layout.keptShape;
  if (layout.reducedShape.length > 0) values.red_shape = layout.reducedShape;
  layout.names.forEach((name, k) => {
    values[`${name}_offset`] = layout.offsets[k];
    if (layout.keptShape.length > 0) values[`${name}_kept`] = layout.kept[k];
    if (layout.reducedShape.length > 0) values[`${name}_red`] = layout.reduced[k];
  });
  return values;
}

/** WGSL: the workgroup's index `g` over a 2-D grid, and `lid`. Used by one-workgroup-per-row kernels. */
export const ROW_ENTRY = `@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32`;

/** Invocations per row: 64 for short rows (fewer idle lanes and barriers), 256 for long ones. */
export function rowWorkgroup(length: number): number {
  return length <= 1024 ? 64 : 256;
}
