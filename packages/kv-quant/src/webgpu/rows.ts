import { contiguous, type DType, type Tensor, UnsupportedDTypeError, wordsPerRow } from '@kvkit/tensor-core';
import {
  coalesceDims,
  lastAxisFunction,
  lastAxisUniforms,
  lastAxisValues,
  type TensorBindingSpec,
  type UniformField,
  type UniformValues,
  type WebGpuBackend,
} from '@kvkit/tensor-core/webgpu';

/** Threads per workgroup of kv-quant's WGSL kernels (one task per thread). */
const WORKGROUP = 64;

/** Entry point of a kernel whose thread `task` runs `body` (dispatched by `launchRows`). */
export function taskEntry(body: string): string {
  return `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let task = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
${body}
}`;
}

/** Workgroups for `tasks` threads (a 2-D grid past the per-dimension limit; see `taskEntry`). */
function taskGrid(backend: WebGpuBackend, tasks: number): [number, number] {
  return backend.grid(Math.ceil(tasks / WORKGROUP));
}

/** Leading axes a row operand is addressed through (after merging the ones that coalesce). */
const LEAD_AXES = 2;

/** How the kernels decode an element's bits: f32, f16 and bf16 (a code for the `kind` uniform). */
const FLOAT_KIND: Partial<Record<DType, number>> = { f32: 0, f16: 1, bf16: 2 };

/**
 * A tensor read in place as rows of its last axis — any view (a per-channel group is a transposed
 * view) whose leading axes merge into two strided ones; others are copied row-major first. The
 * buffer is bound as u32 words whatever the dtype (16-bit elements two to a word, the low one
 * first), so one pipeline serves f32, f16 and bf16 and no `shader-f16` is needed. Generates
 * `NAME_elem(r, c)` (element index) and `NAME_bits(e)` (an element's raw bits).
 */
export interface RowOperand {
  tensor: Tensor;
  binding: TensorBindingSpec;
  uniforms: UniformField[];
  values: UniformValues;
  code: string;
  /** A row-major copy made for the launch (dispose after dispatching), if any. */
  staged?: Tensor;
}

export function rowOperand(name: string, t: Tensor): RowOperand {
  const lead = coalesceDims(t.shape.slice(0, -1), [t.strides.slice(0, -1)]);
  if (lead.shape.length > LEAD_AXES) {
    const staged = contiguous(t);
    return { ...rowOperand(name, staged), staged };
  }
  const pad = LEAD_AXES - lead.shape.length;
  const shape = [...Array(pad).fill(1), ...lead.shape, t.shape[t.rank - 1]];
  const strides = [...Array(pad).fill(0), ...lead.strides[0], t.strides[t.rank - 1]];
  const wide = t.dtype === 'f16' || t.dtype === 'bf16' ? 0 : 1;
  return {
    tensor: t,
    binding: { name, dtype: 'u32', access: 'read' },
    uniforms: [...lastAxisUniforms(name, LEAD_AXES + 1), { name: `${name}_wide`, type: 'u32' }, { name: `${name}_kind`, type: 'u32' }],
    values: { ...lastAxisValues(name, shape, strides, t.offset), [`${name}_wide`]: wide, [`${name}_kind`]: FLOAT_KIND[t.dtype] ?? 0 },
    code: `${lastAxisFunction(name, LEAD_AXES + 1)}
fn ${name}_bits(e: u32) -> u32 {
  if (u_${name}_wide() == 1u) { return ${name}_raw(e); }
  return (${name}_raw(e >> 1u) >> ((e & 1u) * 16u)) & 0xffffu;
}
// Element (r, c) of a float operand as f32 bits, exactly (f16 and bf16 widen without rounding).
fn ${name}_f32_bits(r: u32, c: u32) -> u32 {
  let b = ${name}_bits(${name}_elem(r, c));
  if (u_${name}_kind() == 1u) { return kvq_f16_to_f32_bits(b); }
  if (u_${name}_kind() == 2u) { return b << 16u; }
  return b;
}`,
  };
}

/** An output buffer of a launch: its binding and the tensor bound there. */
export interface LaunchOutput {
  binding: TensorBindingSpec;
  tensor: Tensor;
}

/**
 * Compiles (once, under `key`) and records one kernel launch: the row operands' bindings, then
 * the outputs'; uniforms are `uniforms` plus the operands' addressing; `tasks` threads run
 * `source` (see `taskEntry`). Copies `rowOperand` made are released after recording.
 */
export function launchRows(
  backend: WebGpuBackend,
  key: string,
  launch: { operands: RowOperand[]; outputs: LaunchOutput[]; uniforms: UniformField[]; values: UniformValues; source: string; tasks: number }
): void {
  const { operands, outputs } = launch;
  const program = backend.program(key, () => ({
    bindings: [...operands.map((o) => o.binding), ...outputs.map((o) => o.binding)],
    uniforms: [...launch.uniforms, ...operands.flatMap((o) => o.uniforms)],
    code: `${operands.map((o) => o.code).join('\n')}\n${launch.source}`,
  }));
  const values = Object.assign({}, launch.values, ...operands.map((o) => o.values));
  backend.dispatch(program, [...operands.map((o) => o.tensor), ...outputs.map((o) => o.tensor)], values, taskGrid(backend, launch.tasks));
  for (const o of operands) o.staged?.dispose();
}

export function assertFloatInput(t: Tensor, where: string): void {
  if (FLOAT_KIND[t.dtype] === undefined) throw new UnsupportedDTypeError(`${where} (webgpu): expected a float tensor, got ${t.dtype}`);
}

/** IEEE layout of f16/f32 parameters, for the `param_mb` / `param_eb` uniforms. */
export function paramLayout(dtype: DType, where: string): { param_mb: number; param_eb: number } {
  if (dtype === 'f32') return { param_mb: 23, param_eb: 8 };
  if (dtype === 'f16') return { param_mb: 10, param_eb: 5 };
  throw new UnsupportedDTypeError(`${where} (webgpu): expected f16 or f32 parameters, got ${dtype}`);
}

export const PARAM_UNIFORMS: UniformField[] = [
  { name: 'param_mb', type: 'u32' },
  { name: 'param_eb', type: 'u32' },
];

/** Uniform values describing rows of `n` values coded in groups of `groupSize` at `bits` (the packed layout). */
export function groupedRowSizes(rows: number, n: number, groupSize: number, bits: number) {
  const perWord = Math.floor(32 / bits);
  return {
    rows,
    n,
    group_size: groupSize,
    groups: Math.ceil(n / groupSize),
    group_words: Math.ceil(groupSize / perWord),
    row_words: wordsPerRow(n, bits, groupSize),
    bits,
  };
}

/**
 * The head of a quantize kernel over grouped rows (one thread per group; uniforms of
 * `groupedRowSizes`): the thread's row `r`, group `g`, its first value `start` and length `len`.
 */
export const QUANTIZE_TASK_WGSL = `  if (task >= u_rows() * u_groups()) { return; }
  let r = task / u_groups();
  let g = task - r * u_groups();
  let start = g * u_group_size();
  let len = min(u_group_size(), u_n() - start);
  let bits = u_bits();
  let per_word = 32u / bits;`;

/**
 * The head of a dequantize kernel over grouped rows (one thread per value; bindings `codes`, uniforms of
 * `groupedRowSizes`): the thread's row `r`, channel `i`, group `g`, index `j` in the group and its `code`.
 */
export const DEQUANTIZE_TASK_WGSL = `  if (task >= u_rows() * u_n()) { return; }
  let r = task / u_n();
  let i = task - r * u_n();
  let g = i / u_group_size();
  let j = i - g * u_group_size();
  let bits = u_bits();
  let per_word = 32u / bits;
  let word = codes_raw(codes_elem(r, g * u_group_words() + j / per_word));
  let code = (word >> ((j % per_word) * bits)) & ((1u << bits) - 1u);`;

/**
 * `kvq_group_range(r, start, len)`: Math.min / Math.max of x's values [start, start + len) in row r
 * as soft doubles (−0 below +0; a NaN anywhere makes both NaN). Needs SOFT_DOUBLE_WGSL and an `x` binding.
 */
export const GROUP_RANGE_WGSL = `struct KvqRange { low: KvqF64, high: KvqF64 }

// Math.min / Math.max over the group (−0 below +0); a NaN anywhere makes both NaN.
fn kvq_group_range(r: u32, start: u32, len: u32) -> KvqRange {
  var lo_bits = 0x7f800000u;
  var hi_bits = 0xff800000u;
  var nan = false;
  for (var i = 0u; i < len; i++) {
    let b = x_f32_bits(r, start + i);
    nan = nan || kvq_is_nan_bits(b);
    if (kvq_order(b) < kvq_order(lo_bits)) { lo_bits = b; }
    if (kvq_order(b) > kvq_order(hi_bits)) { hi_bits = b; }
  }
  if (nan) { return KvqRange(kvq_special(KVQ_NAN, 0u), kvq_special(KVQ_NAN, 0u)); }
  return KvqRange(kvq_from_bits(lo_bits, 23u, 8u), kvq_from_bits(hi_bits, 23u, 8u));
}`;
