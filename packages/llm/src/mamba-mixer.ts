import {
  abs,
  add,
  affine,
  cast,
  contiguous,
  exp,
  log,
  mul,
  neg,
  relu,
  reshape,
  rmsNorm,
  selectiveScan,
  silu,
  slice,
  type Tensor,
  type TensorScope,
} from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import { convolvedColumns, eachRequest } from './continued-convolution.js';
import type { Segment } from './decoder-layer.js';
import { linear } from './linear.js';
import type { MambaConfig } from './mamba-config.js';
import type { MambaWeights } from './weights.js';

/** softplus(v) = log(1 + eᵛ), as max(v, 0) + log(1 + e^−|v|) so that no step overflows. */
export function softplus(v: Tensor, scope: TensorScope): Tensor {
  const tail = scope.track(log(scope.track(affine(scope.track(exp(scope.track(neg(scope.track(abs(v)))))), 1, 1))));
  return scope.track(add(scope.track(relu(v)), tail));
}

/** A Mamba (or Gated DeltaNet) layer's decay rates a = −exp(A_log) in f32: constant, so derived once per model, not per pass. */
export function mambaDecayRates(w: { aLog: Tensor }): Tensor {
  const aLog = w.aLog.dtype === 'f32' ? w.aLog : cast(w.aLog, 'f32');
  const rates = exp(aLog);
  if (aLog !== w.aLog) aLog.dispose();
  const negative = neg(rates);
  rates.dispose();
  return negative;
}

/**
 * What a model computes once for all its Mamba layers: ones [normGroupSize] for a norm over groups
 * of channels (Nemotron-H's, Falcon-H1's), and Falcon-H1's factors on the sections of in_proj's
 * output ([d_inner + convDim + heads]: its ssm_multipliers spread over z, x, B, C and dt).
 */
export interface MambaShared {
  unitNorm?: Tensor;
  projectionScale?: Tensor;
}

/** Falcon-H1's ssm_multipliers spread over in_proj's output sections (z, x, B, C, dt), or undefined where all are 1. */
export function projectionScaleOf(config: LlamaConfig): Float32Array | undefined {
  const m = config.mamba;
  const sections = config.falconH1?.ssmSections;
  if (!m || !sections || sections.every((f) => f === 1)) return undefined;
  const widths = [m.inner, m.inner, m.groups * m.dState, m.groups * m.dState, m.heads];
  return Float32Array.from(widths.flatMap((width, i) => new Array<number>(width).fill(sections[i])));
}

/** RMSNorm over groups of `normGroupSize` channels times the weight [d_inner] (one group: a plain RMSNorm). */
function groupedRmsNorm(x: Tensor, weight: Tensor, unitNorm: Tensor | undefined, m: MambaConfig, eps: number, scope: TensorScope): Tensor {
  if (m.normGroupSize === m.inner) return scope.track(rmsNorm(x, weight, eps));
  const rows = x.shape[0];
  const grouped = scope.track(rmsNorm(scope.track(reshape(x, [rows, m.inner / m.normGroupSize, m.normGroupSize])), unitNorm!, eps));
  return scope.track(mul(scope.track(reshape(grouped, [rows, m.inner])), weight));
}

/**
 * The mixer's output y meeting its gate z (`MambaConfig.gate`): RMSNorm(y ⊙ silu(z)), RMSNorm(y) ⊙
 * silu(z), or y ⊙ silu(z); the norm over groups of `normGroupSize` channels (Nemotron-H, Falcon-H1:
 * d_inner / n_groups; Granite 4.0-H: all of d_inner).
 */
function gatedOutput(y: Tensor, z: Tensor, norm: Tensor | undefined, unitNorm: Tensor | undefined, m: MambaConfig, eps: number, scope: TensorScope): Tensor {
  const gate = scope.track(silu(z));
  if (m.gate === 'no-norm') return scope.track(mul(y, gate));
  if (m.gate === 'norm-before-gate') return scope.track(mul(groupedRmsNorm(y, norm!, unitNorm, m, eps, scope), gate));
  return groupedRmsNorm(scope.track(mul(y, gate)), norm!, unitNorm, m, eps, scope);
}

/**
 * Bamba's Mamba-2 mixer (Granite 4.0-H, Nemotron-H, Falcon-H1) over the normalized rows `h` ([rows, hidden]): in_proj gives
 * z, xBC and dt (Falcon-H1: each section scaled, `MambaShared.projectionScale`); xBC goes through the causal depthwise convolution (`causalConv1d`) and SiLU and
 * splits into x, B and C; dt = softplus(dt + dt_bias), with `a` = −exp(A_log) (`mambaDecayRates`); the state-space recurrence
 * (`selectiveScan`) gives y, plus D · x; y gated by z (`gatedOutput`) and out_proj. Each segment continues
 * its own sequence from its cache's recurrent state: the convolution's last taps − 1 rows in slot
 * `2j` and the f32 scan state in slot `2j + 1`, for the layer's index j among the Mamba layers.
 */
export function mambaBlock(
  h: Tensor,
  w: MambaWeights,
  a: Tensor,
  j: number,
  config: LlamaConfig,
  segments: readonly Segment[],
  scope: TensorScope,
  shared: MambaShared = {},
): Tensor {
  const m = config.mamba as MambaConfig;
  const { inner, convDim, heads, headDim, dState, groups, convKernel: taps } = m;
  const inProjected = linear(h, w.inProj, scope);
  const projected = shared.projectionScale ? scope.track(mul(inProjected, shared.projectionScale)) : inProjected;
  const columns = (from: number, to: number) => scope.track(slice(projected, [0, from], [projected.shape[0], to]));
  const z = columns(0, inner);
  const xbc = columns(inner, inner + convDim);
  const dt = softplus(scope.track(add(columns(inner + convDim, inner + convDim + heads), w.dtBias)), scope);
  const kernel = scope.track(reshape(w.kernel, [convDim, taps]));
  const y = eachRequest(segments, scope, (own, state, n) => {
    const part = convolvedColumns(own(xbc), kernel, w.kernelBias, state, 2 * j, scope);
    const x = part(0, inner, [n, heads, headDim]);
    const b = part(inner, groups * dState, [n, groups, dState]);
    const c = part(inner + groups * dState, groups * dState, [n, groups, dState]);
    const scan = selectiveScan(x, scope.track(contiguous(own(dt))), a, b, c, state.read(2 * j + 1));
    scope.track(scan.y);
    state.write(2 * j + 1, scan.state);
    const skip = scope.track(mul(x, scope.track(reshape(w.d, [heads, 1]))));
    return scope.track(reshape(scope.track(add(scan.y, skip)), [n, inner]));
  });
  return linear(gatedOutput(y, z, w.norm, shared.unitNorm, m, config.normEps, scope), w.outProj, scope);
}
