import { isFloatDType } from '../../dtype.js';
import { UnsupportedDTypeError } from '../../errors.js';
import type { BinaryOp, UnaryAttrs, UnaryOp } from '../../ops/elementwise.js';
import { broadcastStrides, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { computeType } from '../wgsl/dtypes.js';
import { runMap } from './map.js';

const FLOAT_BINARY: Record<BinaryOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  maximum: 'nan_max(a, b)',
  minimum: 'nan_min(a, b)',
  pow: 'pow_js(a, b)',
};

// Integer results wrap (the store keeps the low bits), as the CPU's typed-array stores do.
const INTEGER_BINARY: Partial<Record<BinaryOp, string>> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  maximum: 'max(a, b)',
  minimum: 'min(a, b)',
};

/**
 * WGSL choosing among `expressions` by the uniform `op` (one pipeline serves every op: fewer
 * shaders to compile at startup, and the branch is uniform across the dispatch).
 */
function opSwitch(expressions: Partial<Record<string, string>>, type: string, op: string, dtype: string): { code: string; op: number } {
  const entries = Object.entries(expressions).filter((e): e is [string, string] => e[1] !== undefined);
  const index = entries.findIndex(([name]) => name === op);
  if (index < 0) throw new UnsupportedDTypeError(`${op}: not defined for ${dtype} tensors`, { op, dtype });
  const cases = entries.map(([, expression], i) => `    case ${i}u: { return ${expression}; }`).join('\n');
  return { code: `  switch u_op() {\n${cases}\n    default: { return ${type}(0); }\n  }`, op: index };
}

/** Elementwise `op` over the broadcast `shape`; operands may be any views. */
export function binaryOp(backend: WebGpuBackend, a: Tensor, b: Tensor, op: BinaryOp, shape: Shape): Tensor {
  const type = computeType(a.dtype);
  const ops = opSwitch(isFloatDType(a.dtype) ? FLOAT_BINARY : INTEGER_BINARY, type, op, a.dtype);
  return runMap(backend, {
    key: 'binary',
    shape,
    operands: [
      { name: 'a', tensor: a, strides: broadcastStrides(a.shape, a.strides, shape) },
      { name: 'b', tensor: b, strides: broadcastStrides(b.shape, b.strides, shape) },
    ],
    uniforms: { fields: [{ name: 'op', type: 'u32' }], values: { op: ops.op } },
    dtype: a.dtype,
    value: `fn value(i: u32) -> ${type} {
  let a = a_load(a_index(i));
  let b = b_load(b_index(i));
${ops.code}
}`,
  });
}

const FLOAT_UNARY: Record<UnaryOp, string> = {
  neg: '-x',
  abs: 'abs(x)',
  exp: 'exp(x)',
  log: 'log(x)',
  sqrt: 'sqrt(x)',
  rsqrt: '1.0 / sqrt(x)',
  square: 'x * x',
  reciprocal: '1.0 / x',
  tanh: 'tanh_acc(x)',
  sigmoid: '1.0 / (1.0 + exp(-x))',
  silu: 'x / (1.0 + exp(-x))',
  gelu: '0.5 * x * erfc_acc(-x * 0.7071067811865476)',
  geluTanh: '0.5 * x * (1.0 + tanh_acc(0.7978845608028654 * (x + 0.044715 * x * x * x)))',
  relu: 'select(select(0.0, x, x > 0.0), x, is_nan(x))',
  affine: 'u_alpha() * x + u_beta()',
};

const INTEGER_UNARY: Record<'i32' | 'u32', Partial<Record<UnaryOp, string>>> = {
  i32: { neg: '-x', abs: 'abs(x)', square: 'x * x', relu: 'max(x, 0i)' },
  u32: { neg: '0u - x', abs: 'x', square: 'x * x', relu: 'x' },
};

export function unaryOp(backend: WebGpuBackend, x: Tensor, attrs: UnaryAttrs): Tensor {
  const type = computeType(x.dtype);
  const ops = opSwitch(type === 'f32' ? FLOAT_UNARY : INTEGER_UNARY[type], type, attrs.op, x.dtype);
  return runMap(backend, {
    key: 'unary',
    shape: x.shape,
    operands: [{ name: 'x', tensor: x }],
    uniforms: {
      fields: [
        { name: 'op', type: 'u32' },
        { name: 'alpha', type: 'f32' },
        { name: 'beta', type: 'f32' },
      ],
      values: { op: ops.op, alpha: attrs.alpha ?? 1, beta: attrs.beta ?? 0 },
    },
    dtype: x.dtype,
    value:
      type === 'f32'
        ? // NaN in, NaN out: some drivers' exp/log do not propagate it (SwiftShader's exp(-NaN) is 0).
          `fn unary(x: f32) -> f32 {\n${ops.code}\n}\nfn value(i: u32) -> f32 { let x = x_load(x_index(i)); return select(unary(x), x, is_nan(x)); }`
        : `fn value(i: u32) -> ${type} {\n  let x = x_load(x_index(i));\n${ops.code}\n}`,
  });
}
