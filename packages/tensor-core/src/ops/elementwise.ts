import { isFloatDType } from '../dtype.js';
import { UnsupportedDTypeError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { tensor } from './creation.js';
import { assertFloat, assertSameDType } from './validate.js';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'pow';
export type UnaryOp =
  | 'neg'
  | 'abs'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'tanh'
  | 'sigmoid'
  | 'silu'
  | 'gelu'
  | 'geluTanh'
  | 'relu'
  | 'affine';

export interface UnaryAttrs {
  op: UnaryOp;
  /** `affine` computes alpha * x + beta. */
  alpha?: number;
  beta?: number;
}

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    binary: { inputs: [Tensor, Tensor]; attrs: { op: BinaryOp; shape: readonly number[] }; output: Tensor };
    unary: { inputs: [Tensor]; attrs: UnaryAttrs; output: Tensor };
  }
}

const INTEGER_BINARY: ReadonlySet<BinaryOp> = new Set(['add', 'sub', 'mul', 'maximum', 'minimum']);
const INTEGER_UNARY: ReadonlySet<UnaryOp> = new Set(['neg', 'abs', 'square', 'relu']);

function asTensor(value: Tensor | number, like: Tensor): Tensor {
  return typeof value === 'number' ? tensor([value], [], { dtype: like.dtype, backend: like.backend }) : value;
}

/** Elementwise `op` with NumPy broadcasting; both operands share one dtype. */
export function binary(op: BinaryOp, a: Tensor, b: Tensor | number): Tensor {
  const right = asTensor(b, a);
  try {
    assertSameDType(a, right, op);
    if (!isFloatDType(a.dtype) && !INTEGER_BINARY.has(op)) {
      throw new UnsupportedDTypeError(`${op}: needs float tensors, got ${a.dtype}`, { dtype: a.dtype });
    }
    const shape = broadcastShapes(a.shape, right.shape, op);
    return runKernel('binary', [a, right], { op, shape });
  } finally {
    if (right !== b) right.dispose();
  }
}

export const add = (a: Tensor, b: Tensor | number): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor | number): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor | number): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor | number): Tensor => binary('div', a, b);
export const maximum = (a: Tensor, b: Tensor | number): Tensor => binary('maximum', a, b);
export const minimum = (a: Tensor, b: Tensor | number): Tensor => binary('minimum', a, b);
export const pow = (a: Tensor, b: Tensor | number): Tensor => binary('pow', a, b);

/** Elementwise `op` (see `UnaryOp`); integer tensors allow neg, abs, square and relu. */
export function unary(op: UnaryOp, x: Tensor, attrs: Omit<UnaryAttrs, 'op'> = {}): Tensor {
  if (!INTEGER_UNARY.has(op)) assertFloat(x, op);
  return runKernel('unary', [x], { op, ...attrs });
}

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
export const square = (x: Tensor): Tensor => unary('square', x);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
/** x · sigmoid(x) (the SwiGLU gate). */
export const silu = (x: Tensor): Tensor => unary('silu', x);
/** Exact GELU, x · Φ(x). */
export const gelu = (x: Tensor): Tensor => unary('gelu', x);
/** GELU with the tanh approximation (GPT-2, Gemma). */
export const geluTanh = (x: Tensor): Tensor => unary('geluTanh', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** alpha · x + beta. */
export const affine = (x: Tensor, alpha: number, beta = 0): Tensor => unary('affine', x, { alpha, beta });
/** alpha · x. */
export const scale = (x: Tensor, alpha: number): Tensor => unary('affine', x, { alpha, beta: 0 });
