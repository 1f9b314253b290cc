import { type DType, type Tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import {
  lastAxisFunction,
  lastAxisUniforms,
  lastAxisValues,
  rawAlias,
  type TensorBindingSpec,
  type UniformField,
  type UniformValues,
  type WebGpuBackend,
} from '@kvkit/tensor-core/webgpu';

/** Threads per workgroup of kv-quant's WGSL kernels (one task per thread). */
export const WORKGROUP = 64;

/** Entry point of a kernel whose thread `task` runs `body` (grid from `dispatchTasks`). */
export function taskEntry(body: string): string {
  return `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let task = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
${body}
}`;
}

/** Workgroups for `tasks` threads (a 2-D grid past the per-dimension limit; see `taskEntry`). */
export function taskGrid(backend: WebGpuBackend, tasks: number): [number, number] {
  return backend.grid(Math.ceil(tasks / WORKGROUP));
}

/**
 * A tensor read in place as rows of its last axis (any view: a per-channel group is a transposed
 * view), by raw bits — 16-bit elements come two to a u32 word whatever the device supports, so
 * no `shader-f16` is needed. Generates `NAME_elem(r, c)` (buffer element) and `NAME_raw(e)`.
 */
export interface RowOperand {
  binding: TensorBindingSpec;
  uniforms: UniformField[];
  values: UniformValues;
  code: string;
}

export function rowOperand(name: string, t: Tensor): RowOperand {
  return {
    binding: { name, dtype: rawAlias(t.dtype), access: 'read' },
    uniforms: lastAxisUniforms(name, t.rank),
    values: lastAxisValues(name, t.shape, t.strides, t.offset),
    code: lastAxisFunction(name, t.rank),
  };
}

/** IEEE layout of a float dtype whose bits the kernels decode: [mantissa bits, exponent bits]. */
export function ieeeLayout(dtype: DType, where: string): [number, number] {
  if (dtype === 'f32') return [23, 8];
  if (dtype === 'f16') return [10, 5];
  throw new UnsupportedDTypeError(`${where} (webgpu): expected f16 or f32 parameters, got ${dtype}`);
}

/**
 * WGSL `fn NAME_f32_bits(r: u32, c: u32) -> u32`: element (r, c) of a float operand as f32 bits,
 * exactly (f16 and bf16 widen without rounding).
 */
export function floatBitsReader(name: string, dtype: DType, where: string): string {
  const raw = `${name}_raw(${name}_elem(r, c))`;
  const widen: Partial<Record<DType, string>> = { f32: raw, f16: `kvq_f16_to_f32_bits(${raw})`, bf16: `(${raw} << 16u)` };
  const expression = widen[dtype];
  if (!expression) throw new UnsupportedDTypeError(`${where} (webgpu): expected a float tensor, got ${dtype}`);
  return `fn ${name}_f32_bits(r: u32, c: u32) -> u32 { return ${expression}; }`;
}
