import type { DType } from '../../dtype.js';
import { contiguousStrides, type Shape, sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend, WebGpuStorage } from '../backend.js';
import type { TensorBindingSpec } from '../wgsl/bindings.js';
import { elementsPerWord, encodeExpr, rawAlias } from '../wgsl/dtypes.js';
import { coalesceDims, indexFunction, isRowMajor, operandUniforms } from '../wgsl/strided.js';
import type { UniformField, UniformValues } from '../wgsl/uniforms.js';

/** A tensor read at every position of the iteration shape (through `NAME_index(i)` and `NAME_load`/`NAME_raw`). */
export interface MapOperand {
  name: string;
  tensor: Tensor;
  /** Strides of the operand over the iteration shape (default: its own; 0 on broadcast axes). */
  strides?: readonly number[];
}

export interface MapSpec {
  /** Cache-key prefix: the kernel and whatever else changes `value` (op, dtypes). */
  key: string;
  /** Iteration shape = output shape. */
  shape: Shape;
  operands: readonly MapOperand[];
  /** Bindings read by custom addressing (index tensors, tables), after the operands. */
  extra?: readonly { spec: TensorBindingSpec; buffer: Tensor | WebGpuStorage }[];
  uniforms?: { fields: readonly UniformField[]; values: UniformValues };
  dtype: DType;
  /**
   * `value(i)` returns raw bits (u32) instead of a compute-type value; operands and output are then
   * bound by element width only (see `rawAlias`), so one pipeline serves every dtype of that width.
   */
  raw?: boolean;
  /** WGSL defining `fn value(i: u32) -> T` for output element `i` (plus any helpers). */
  value: string;
}

const WORKGROUP = 256;

/**
 * The elementwise template: one invocation per 32-bit output word, so f16/bf16/i8/u8 outputs are
 * written whole-word without atomics. Operands are coalesced with the output first, so a view
 * that is contiguous where it matters costs no index arithmetic.
 */
export function runMap(backend: WebGpuBackend, spec: MapSpec): Tensor {
  const out = backend.empty(spec.shape, spec.dtype);
  const count = sizeOf(spec.shape);
  if (count === 0) return out;
  const operandStrides = spec.operands.map((o) => o.strides ?? o.tensor.strides);
  const merged = coalesceDims(spec.shape, [contiguousStrides(spec.shape), ...operandStrides]);
  const rank = merged.shape.length;
  const contiguous = spec.operands.map((_, k) => isRowMajor(merged.shape, merged.strides[k + 1]));
  const perWord = elementsPerWord(spec.dtype);
  const words = Math.ceil(count / perWord);
  const mode = contiguous.map((c) => (c ? 'c' : 's')).join('');
  const bound = (dtype: DType): DType => (spec.raw ? rawAlias(dtype) : dtype);
  const operandTypes = spec.operands.map((o) => bound(o.tensor.dtype)).join(',');
  const extra = spec.extra ?? [];
  const key = `map:${spec.key}:${bound(spec.dtype)}:r${rank}:${mode}:${operandTypes}${spec.raw ? ':raw' : ''}:${extra.map((e) => `${e.spec.dtype}${e.spec.access}`).join(',')}`;
  const program = backend.program(key, () => {
    const fields: UniformField[] = [
      { name: 'count', type: 'u32' },
      { name: 'words', type: 'u32' },
      ...(rank > 0 ? [{ name: 'shape', type: 'u32' as const, length: rank }] : []),
      ...spec.operands.flatMap((o, k) => operandUniforms(o.name, rank, contiguous[k])),
      ...(spec.uniforms?.fields ?? []),
    ];
    const encode = (v: string) => (spec.raw ? v : encodeExpr(spec.dtype, v));
    const bits = 32 / perWord;
    const store =
      perWord === 1
        ? `out_store_word(w, ${encode('value(w)')});`
        : `var word = 0u;
  for (var j = 0u; j < ${perWord}u; j = j + 1u) {
    let i = w * ${perWord}u + j;
    if (i < u_count()) { word = word | ((${encode('value(i)')} & ${bits === 16 ? '0xffffu' : '0xffu'}) << (j * ${bits}u)); }
  }
  out_store_word(w, word);`;
    return {
      bindings: [
        ...spec.operands.map((o) => ({ name: o.name, dtype: bound(o.tensor.dtype), access: 'read' as const })),
        ...extra.map((e) => e.spec),
        { name: 'out', dtype: bound(spec.dtype), access: 'words' as const },
      ],
      uniforms: fields,
      code: [
        ...spec.operands.map((o, k) => indexFunction(o.name, rank, contiguous[k])),
        spec.value,
        `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (w >= u_words()) { return; }
  ${store}
}`,
      ].join('\n'),
    };
  });
  const values: UniformValues = { count, words, ...(rank > 0 ? { shape: merged.shape } : {}), ...spec.uniforms?.values };
  spec.operands.forEach((o, k) => {
    values[`${o.name}_offset`] = o.tensor.offset;
    if (!contiguous[k] && rank > 0) values[`${o.name}_strides`] = merged.strides[k + 1];
  });
  backend.dispatch(program, [...spec.operands.map((o) => o.tensor), ...extra.map((e) => e.buffer), out], values, backend.grid(Math.ceil(words / WORKGROUP)));
  return out;
}
