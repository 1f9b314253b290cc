import type { DType } from '../dtype.js';
import { DTypeMismatchError, InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { broadcastShapes, formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { cast } from './layout.js';
import { assertFloat, assertMinRank } from './validate.js';

/** How a product's terms are summed (MatmulOptions.accumulate). */
export type ProductSums = 'f64' | 'f32';

export interface MatmulOptions {
  /** Use a's last two axes swapped ([..., k, m] instead of [..., m, k]). */
  transposeA?: boolean;
  /** Use b's last two axes swapped ([..., n, k] instead of [..., k, n]); the layout of HF linear weights. */
  transposeB?: boolean;
  /**
   * How the CPU sums an f32 (or f16/bf16) product: 'f64' (default) adds the exact products in
   * float64 and rounds once, the reference other backends are tested against; 'f32' adds f32
   * products in four f32 lanes (see `gemm-f32-sums.wat`), as GPUs and BLAS do, about twice as fast
   * on several rows. Either way the values do not depend on the number of rows or on SIMD being on.
   * Other backends always sum in f32; f64 operands always in float64.
   */
  accumulate?: ProductSums;
}

export interface MatmulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  /** Broadcast batch shape, then m, n, k. */
  batchShape: readonly number[];
  m: number;
  n: number;
  k: number;
  accumulate: ProductSums;
}

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    matmul: { inputs: [Tensor, Tensor]; attrs: MatmulAttrs; output: Tensor };
  }
}

/** Backends whose matmul kernel takes an f16/bf16 operand beside an f32 one; elsewhere the half operand is widened first. */
const MIXED_MATMUL_BACKENDS = new Set(['cpu']);

/**
 * The dtype of a product of these operands: theirs when they match; f32 for f32 beside f16 or
 * bf16 (half-precision weights with f32 activations: the half operand's values widened exactly).
 */
export function productDType(a: Tensor, b: Tensor, where = 'matmul'): DType {
  if (a.dtype === b.dtype) return a.dtype;
  const half = (d: DType) => d === 'f16' || d === 'bf16';
  if ((a.dtype === 'f32' && half(b.dtype)) || (b.dtype === 'f32' && half(a.dtype))) return 'f32';
  throw new DTypeMismatchError(`${where}: dtypes differ (${a.dtype} vs ${b.dtype}); only f32 beside f16 or bf16 mixes, cast one of them first`, {
    a: a.dtype,
    b: b.dtype,
  });
}

/**
 * Runs a product kernel on operands of `dtype`: as given where they match or the backend's kernel
 * takes a half operand beside an f32 one (the CPU); otherwise the half operand widened to a temporary.
 */
export function withProductOperands<T>(a: Tensor, b: Tensor, dtype: DType, run: (a: Tensor, b: Tensor) => T): T {
  if ((a.dtype === dtype && b.dtype === dtype) || MIXED_MATMUL_BACKENDS.has(a.backend.name)) return run(a, b);
  const widened = a.dtype === dtype ? cast(b, dtype) : cast(a, dtype);
  try {
    return a.dtype === dtype ? run(a, widened) : run(widened, b);
  } finally {
    widened.dispose();
  }
}

/**
 * Batched matrix product over the last two axes, batch axes broadcast: [..., m, k] × [..., k, n] →
 * [..., m, n] in the operands' dtype (accumulation in float64 on the CPU). One operand may be f16
 * or bf16 beside an f32 other (weights kept in half precision): the product is then f32, of the
 * half operand's values widened exactly. The CPU reads such an operand in place (a WeightPool's
 * with one row of f32 on the other side: half the bytes of f32 weights); other backends widen it
 * to a temporary first.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  assertFloat(a, 'matmul', 'a');
  assertFloat(b, 'matmul', 'b');
  const dtype = productDType(a, b);
  assertMinRank(a, 2, 'matmul', 'a');
  assertMinRank(b, 2, 'matmul', 'b');
  const transposeA = options.transposeA ?? false;
  const transposeB = options.transposeB ?? false;
  const accumulate = options.accumulate ?? 'f64';
  if (accumulate !== 'f64' && accumulate !== 'f32') throw new InvalidConfigError(`matmul: accumulate must be 'f64' or 'f32', got ${String(accumulate)}`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transposeA ? ac : ar;
  const k = transposeA ? ar : ac;
  const kb = transposeB ? bc : br;
  const n = transposeB ? br : bc;
  if (k !== kb) {
    throw new ShapeMismatchError(
      `matmul: inner dimensions differ: a ${formatShape(a.shape)}${transposeA ? 'ᵀ' : ''} has k=${k}, b ${formatShape(b.shape)}${transposeB ? 'ᵀ' : ''} has k=${kb}`,
      { a: a.shape, b: b.shape, transposeA, transposeB },
    );
  }
  const batchShape = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul');
  const attrs = { transposeA, transposeB, batchShape, m, n, k, accumulate };
  return withProductOperands(a, b, dtype, (x, y) => runKernel('matmul', [x, y], attrs));
}
