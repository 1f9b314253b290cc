import { ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { broadcastShapes, formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertFloat, assertMinRank, assertSameDType } from './validate.js';

export interface MatmulOptions {
  /** Use a's last two axes swapped ([..., k, m] instead of [..., m, k]). */
  transposeA?: boolean;
  /** Use b's last two axes swapped ([..., n, k] instead of [..., k, n]); the layout of HF linear weights. */
  transposeB?: boolean;
}

export interface MatmulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  /** Broadcast batch shape, then m, n, k. */
  batchShape: readonly number[];
  m: number;
  n: number;
  k: number;
}

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    matmul: { inputs: [Tensor, Tensor]; attrs: MatmulAttrs; output: Tensor };
  }
}

/**
 * Batched matrix product over the last two axes, batch axes broadcast: [..., m, k] × [..., k, n] →
 * [..., m, n] in the operands' dtype (accumulation in float64 on the CPU).
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  assertFloat(a, 'matmul', 'a');
  assertFloat(b, 'matmul', 'b');
  assertSameDType(a, b, 'matmul');
  assertMinRank(a, 2, 'matmul', 'a');
  assertMinRank(b, 2, 'matmul', 'b');
  const transposeA = options.transposeA ?? false;
  const transposeB = options.transposeB ?? false;
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
  return runKernel('matmul', [a, b], { transposeA, transposeB, batchShape, m, n, k });
}
