import { InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertFloat, assertMinRank } from './validate.js';

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    rmsNorm: { inputs: [Tensor, Tensor]; attrs: { eps: number }; output: Tensor };
    layerNorm: { inputs: [Tensor, Tensor, Tensor | undefined]; attrs: { eps: number }; output: Tensor };
  }
}

function assertNormInputs(where: string, x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): void {
  assertFloat(x, where);
  assertFloat(weight, where, 'weight');
  assertMinRank(x, 1, where);
  const d = x.shape[x.rank - 1];
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== d)) {
      throw new ShapeMismatchError(`${where}: ${name} must have shape [${d}] to match the last axis of ${formatShape(x.shape)}, got ${formatShape(t.shape)}`, {
        x: x.shape,
        [name]: t.shape,
      });
    }
  }
  if (!(eps >= 0)) throw new InvalidConfigError(`${where}: eps must be >= 0, got ${eps}`);
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · weight (statistics in float64 on the CPU). */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  assertNormInputs('rmsNorm', x, weight, undefined, eps);
  return runKernel('rmsNorm', [x, weight], { eps });
}

/** LayerNorm over the last axis: (x − mean) / sqrt(var + eps) · weight + bias. */
export function layerNorm(x: Tensor, weight: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  assertNormInputs('layerNorm', x, weight, bias, eps);
  return runKernel('layerNorm', [x, weight, bias], { eps });
}
