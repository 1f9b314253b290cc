import { bytesPerElement, type DType } from '../../dtype.js';
import { contiguousStrides, type Shape, sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend, WebGpuStorage } from '../backend.js';
import type { TensorBindingSpec } from '../wgsl/bindings.js';
import { computeType, decodeExpr, elementsPerWord, encodeExpr, rawAlias } from '../wgsl/dtypes.js';
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
 * The vectorized variant applies when every operand is contiguous over the iteration, has the
 * output's element width and starts on a 16-byte boundary, and the output has a multiple of 4
 * words: each invocation then loads one `vec4<u32>` per operand and stores one `vec4<u32>`
 * (4 words) instead of one word, so the GPU moves 16-byte accesses and runs a quarter of the
 * invocations. Views offset off the boundary, broadcasts and gathers keep the one-word template.
 */
function vectorizable(spec: MapSpec, contiguous: readonly boolean[], words: number): boolean {
  const width = bytesPerElement(spec.dtype);
  return (
    words % 4 === 0 &&
    spec.operands.every((o, k) => contiguous[k] && bytesPerElement(o.tensor.dtype) === width && (o.tensor.offset * width) % 16 === 0)
  );
}

/**
 * Accessors of operand `name` in the vectorized variant. `NAME_raw(e)` keeps its meaning (element
 * `e` of the whole buffer), but the 4 words of this invocation's quad come from registers loaded
 * once (`NAME_q`, words `NAME_qw` … `NAME_qw + 3`); any other element is read from memory, so a
 * `value` that reads elsewhere stays correct.
 */
function quadOperand(name: string, dtype: DType): string {
  const perWord = elementsPerWord(dtype);
  const shift = Math.log2(perWord);
  const bits = 32 / perWord;
  const raw =
    perWord === 1
      ? `${name}_word(e)`
      : `(${name}_word(e >> ${shift}u) >> ((e & ${perWord - 1}u) * ${bits}u)) & ${bits === 16 ? '0xffffu' : '0xffu'}`;
  return `var<private> ${name}_q: vec4<u32>;
var<private> ${name}_qw: u32;
fn ${name}_word(w: u32) -> u32 {
  let k = w - ${name}_qw;
  if (k < 4u) { return ${name}_q[k]; }
  return ${name}_quads[w >> 2u][w & 3u];
}
fn ${name}_raw(e: u32) -> u32 { return ${raw}; }
fn ${name}_load(e: u32) -> ${computeType(dtype)} { return ${decodeExpr(dtype, `${name}_raw(e)`)}; }`;
}

/**
 * The elementwise template: one invocation per 32-bit output word (or per 4 words, see
 * `vectorizable`), so f16/bf16/i8/u8 outputs are written whole-word without atomics. Operands are
 * coalesced with the output first, so a view that is contiguous where it matters costs no index
 * arithmetic.
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
  const vec4 = vectorizable(spec, contiguous, words);
  const mode = contiguous.map((c) => (c ? 'c' : 's')).join('');
  const bound = (dtype: DType): DType => (spec.raw ? rawAlias(dtype) : dtype);
  const operandTypes = spec.operands.map((o) => bound(o.tensor.dtype)).join(',');
  const extra = spec.extra ?? [];
  const key = `map:${spec.key}:${bound(spec.dtype)}:r${rank}:${mode}:${operandTypes}${spec.raw ? ':raw' : ''}${vec4 ? ':v4' : ''}:${extra.map((e) => `${e.spec.dtype}${e.spec.access}`).join(',')}`;
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
    const wordAt =
      perWord === 1
        ? `fn word_at(w: u32) -> u32 { return ${encode('value(w)')}; }`
        : `fn word_at(w: u32) -> u32 {
  var word = 0u;
  for (var j = 0u; j < ${perWord}u; j = j + 1u) {
    let i = w * ${perWord}u + j;
    if (i < u_count()) { word = word | ((${encode('value(i)')} & ${bits === 16 ? '0xffffu' : '0xffu'}) << (j * ${bits}u)); }
  }
  return word;
}`;
    const entry = `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;`;
    const main = vec4
      ? `${entry}
  if (n >= u_words() / 4u) { return; }
${spec.operands.map((o) => `  ${o.name}_qw = u_${o.name}_offset() / ${perWord}u + n * 4u;
  ${o.name}_q = ${o.name}_quads[${o.name}_qw >> 2u];`).join('\n')}
  let w = n * 4u;
  out_store_word4(n, vec4<u32>(word_at(w), word_at(w + 1u), word_at(w + 2u), word_at(w + 3u)));
}`
      : `${entry}
  if (n >= u_words()) { return; }
  out_store_word(n, word_at(n));
}`;
    return {
      bindings: [
        ...spec.operands.map((o) =>
          vec4 ? { name: `${o.name}_quads`, dtype: 'u32' as const, access: 'read' as const, vec4: true } : { name: o.name, dtype: bound(o.tensor.dtype), access: 'read' as const },
        ),
        ...extra.map((e) => e.spec),
        { name: 'out', dtype: bound(spec.dtype), access: 'words' as const, vec4 },
      ],
      uniforms: fields,
      code: [
        ...spec.operands.map((o, k) => indexFunction(o.name, rank, contiguous[k])),
        ...(vec4 ? spec.operands.map((o) => quadOperand(o.name, bound(o.tensor.dtype))) : []),
        spec.value,
        wordAt,
        main,
      ].join('\n'),
    };
  });
  const values: UniformValues = { count, words, ...(rank > 0 ? { shape: merged.shape } : {}), ...spec.uniforms?.values };
  spec.operands.forEach((o, k) => {
    values[`${o.name}_offset`] = o.tensor.offset;
    if (!contiguous[k] && rank > 0) values[`${o.name}_strides`] = merged.strides[k + 1];
  });
  const invocations = vec4 ? words / 4 : words;
  backend.dispatch(program, [...spec.operands.map((o) => o.tensor), ...extra.map((e) => e.buffer), out], values, backend.grid(Math.ceil(invocations / WORKGROUP)));
  return out;
}
