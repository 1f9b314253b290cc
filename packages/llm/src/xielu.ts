import { add, affine, exp, minimum, mul, relu, sub, tanh, type Tensor, type TensorScope } from '@kvkit/tensor-core';

/** xIELU's parameters for one layer, as the checkpoint stores them (alpha_p and alpha_n before their softplus). */
export interface XieluParameters {
  alphaP: number;
  alphaN: number;
  beta: number;
  eps: number;
}

/**
 * eᶻ − 1 to relative precision near 0 (z = ε there: exp(z) − 1 would keep only its first digits)
 * as tanh(z/2)·(eᶻ + 1).
 */
function expm1(z: Tensor, t: <T extends Tensor>(value: T) => T): Tensor {
  return t(mul(t(tanh(t(mul(z, 0.5)))), t(add(t(exp(z)), 1))));
}

/** softplus(x) = ln(1 + eˣ), stable for large x. */
const softplus = (x: number): number => (x > 20 ? x : Math.log1p(Math.exp(x)));

/**
 * xIELU (Apertus's MLP activation; Huang & Schlag, arXiv 2411.13010), as transformers computes it:
 * αp·x² + β·x for x > 0, else (expm1(min(x, ε)) − x)·αn + β·x, with αp = softplus(alpha_p) and
 * αn = β + softplus(alpha_n). With elementwise ops only: the branch is a factor [x > 0] = min(1,
 * relu(x)·2ᵏ), 2ᵏ the reciprocal of the dtype's smallest positive value (2¹⁴⁹ for f32, 2²⁴ for f16),
 * applied in two steps each within the dtype's range (a scalar it cannot hold would be ∞, and 0·∞ NaN).
 */
export function xielu(x: Tensor, p: XieluParameters, scope: TensorScope): Tensor {
  const t = <T extends Tensor>(value: T): T => scope.track(value);
  const alphaP = softplus(p.alphaP);
  const alphaN = p.beta + softplus(p.alphaN);
  const positive = t(relu(x));
  const [first, second] = x.dtype === 'f16' ? [2 ** 12, 2 ** 12] : [2 ** 100, 2 ** 49];
  const isPositive = t(minimum(t(mul(t(mul(positive, first)), second)), 1));
  const negativeBranch = t(mul(t(sub(expm1(t(minimum(x, p.eps)), t), x)), alphaN));
  const notPositive = t(affine(isPositive, -1, 1));
  const branches = t(add(t(mul(t(mul(positive, positive)), alphaP)), t(mul(negativeBranch, notPositive))));
  return t(add(branches, t(mul(x, p.beta))));
}
