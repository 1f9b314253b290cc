import { contiguousStrides } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import type { UniformField, UniformValues } from '../wgsl/uniforms.js';
import { ROW_ENTRY, rowFunctions, rowKey, rowLayout, rowUniforms, rowValues, rowWorkgroup } from './rows.js';

/** WGSL: reduces `value` over the workgroup into `scratch[0]` (f32), leaving it readable by all. */
function workgroupReduce(combine: (a: string, b: string) => string): string {
  return `scratch[lid] = value;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { scratch[lid] = ${combine('scratch[lid]', 'scratch[lid + s]')}; }
    workgroupBarrier();
  }`;
}

/** The result of a workgroupReduce, copied out before `scratch` is reused. */
const TAKE = `let result = scratch[0];
  workgroupBarrier();`;

interface RowKernel {
  key: string;
  x: Tensor;
  axis: number;
  /** 1-D tensors read at position l of the row (norm weight and bias). */
  vectors: readonly { name: string; tensor: Tensor }[];
  uniforms?: { fields: UniformField[]; values: UniformValues };
  /** WGSL statements run by every invocation of a row's workgroup, with `base`, `obase`, `n`, `lid`, `scratch` and the constant `WG`. */
  body: string;
}

/** One workgroup per row of `x` along `axis`, writing an output shaped like `x`. */
function runRowKernel(backend: WebGpuBackend, spec: RowKernel): Tensor {
  const { x } = spec;
  const out = backend.empty(x.shape, x.dtype);
  const layout = rowLayout(x.shape, [spec.axis], [
    { name: 'x', strides: x.strides, offset: x.offset },
    { name: 'out', strides: contiguousStrides(x.shape), offset: 0 },
  ]);
  if (layout.rows === 0 || layout.length === 0) return out;
  const wg = rowWorkgroup(layout.length);
  const program = backend.program(`${spec.key}:${x.dtype}:${rowKey(layout)}:wg${wg}:${spec.vectors.map((v) => v.tensor.dtype).join(',')}`, () => ({
    bindings: [
      { name: 'x', dtype: x.dtype, access: 'read' },
      ...spec.vectors.map((v) => ({ name: v.name, dtype: v.tensor.dtype, access: 'read' as const })),
      { name: 'out', dtype: x.dtype, access: 'write' },
    ],
    uniforms: [
      ...rowUniforms(layout),
      ...spec.vectors.flatMap((v) => [
        { name: `${v.name}_offset`, type: 'u32' as const },
        { name: `${v.name}_stride`, type: 'u32' as const },
      ]),
      ...(spec.uniforms?.fields ?? []),
    ],
    code: `${rowFunctions(layout)}
${spec.vectors.map((v) => `fn ${v.name}_get(l: u32) -> f32 { return ${v.name}_load(u_${v.name}_offset() + l * u_${v.name}_stride()); }`).join('\n')}
const WG = ${wg}u;
var<workgroup> scratch: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(${ROW_ENTRY}) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= u_rows()) { return; }
  let base = x_row(row);
  let obase = out_row(row);
  let n = u_len();
  ${spec.body}
}`,
  }));
  const values: UniformValues = { ...rowValues(layout), ...spec.uniforms?.values };
  for (const v of spec.vectors) {
    values[`${v.name}_offset`] = v.tensor.offset;
    values[`${v.name}_stride`] = v.tensor.strides[0];
  }
  backend.dispatch(program, [x, ...spec.vectors.map((v) => v.tensor), out], values, backend.grid(layout.rows));
  return out;
}

/** Softmax (or log-softmax) along `axis`: max first, NaN propagates, an all −∞ row gives NaN (as on the CPU). */
export function softmaxTensor(backend: WebGpuBackend, x: Tensor, axis: number, log: boolean): Tensor {
  return runRowKernel(backend, {
    key: 'softmax',
    x,
    axis,
    vectors: [],
    uniforms: { fields: [{ name: 'log', type: 'u32' }], values: { log: log ? 1 : 0 } },
    body: `var value = -inf_f32();
  for (var l = lid; l < n; l = l + WG) { value = nan_max(value, x_load(base + x_at(l))); }
  ${workgroupReduce((a, b) => `nan_max(${a}, ${b})`)}
  ${TAKE}
  let m = result;
  // NaN anywhere, or no finite value (all −∞): the CPU's exp/sum give NaN for the whole row.
  let undefined_row = is_nan(m) || m == -inf_f32();
  value = 0.0;
  for (var l = lid; l < n; l = l + WG) { value = value + exp(x_load(base + x_at(l)) - m); }
  ${workgroupReduce((a, b) => `${a} + ${b}`)}
  let total = scratch[0];
  for (var l = lid; l < n; l = l + WG) {
    let v = x_load(base + x_at(l));
    let y = select(exp(v - m) / total, v - (m + log(total)), u_log() != 0u);
    out_store(obase + out_at(l), select(y, nan_f32(), undefined_row));
  }`,
  });
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · weight. */
export function rmsNormTensor(backend: WebGpuBackend, x: Tensor, weight: Tensor, eps: number): Tensor {
  return runRowKernel(backend, {
    key: 'rmsNorm',
    x,
    axis: x.rank - 1,
    vectors: [{ name: 'w', tensor: weight }],
    uniforms: { fields: [{ name: 'eps', type: 'f32' }], values: { eps } },
    body: `var value = 0.0;
  for (var l = lid; l < n; l = l + WG) { let v = x_load(base + x_at(l)); value = value + v * v; }
  ${workgroupReduce((a, b) => `${a} + ${b}`)}
  let inv = 1.0 / sqrt(scratch[0] / f32(n) + u_eps());
  for (var l = lid; l < n; l = l + WG) { out_store(obase + out_at(l), x_load(base + x_at(l)) * inv * w_get(l)); }`,
  });
}

/** LayerNorm over the last axis: (x − mean) / sqrt(var + eps) · weight + bias (two passes, as on the CPU). */
export function layerNormTensor(backend: WebGpuBackend, x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): Tensor {
  return runRowKernel(backend, {
    key: bias ? 'layerNormBias' : 'layerNorm',
    x,
    axis: x.rank - 1,
    vectors: bias ? [{ name: 'w', tensor: weight }, { name: 'b', tensor: bias }] : [{ name: 'w', tensor: weight }],
    uniforms: { fields: [{ name: 'eps', type: 'f32' }], values: { eps } },
    body: `var value = 0.0;
  for (var l = lid; l < n; l = l + WG) { value = value + x_load(base + x_at(l)); }
  ${workgroupReduce((a, b) => `${a} + ${b}`)}
  ${TAKE}
  let mean = result / f32(n);
  value = 0.0;
  for (var l = lid; l < n; l = l + WG) { let d = x_load(base + x_at(l)) - mean; value = value + d * d; }
  ${workgroupReduce((a, b) => `${a} + ${b}`)}
  let inv = 1.0 / sqrt(scratch[0] / f32(n) + u_eps());
  for (var l = lid; l < n; l = l + WG) {
    out_store(obase + out_at(l), (x_load(base + x_at(l)) - mean) * inv * w_get(l)${bias ? ' + b_get(l)' : ''});
  }`,
  });
}
