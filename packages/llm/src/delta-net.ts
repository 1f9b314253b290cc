import { add, affine, cast, contiguous, gatedDeltaRule, mul, reshape, rmsNorm, rsqrt, sigmoid, silu, sum, type Tensor, type TensorScope } from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import { convolvedColumns, eachRequest } from './continued-convolution.js';
import type { Segment } from './decoder-layer.js';
import { linear } from './linear.js';
import { softplus } from './mamba-mixer.js';
import type { DeltaNetWeights } from './weights.js';

/**
 * x / √(Σx² + 1e-6) over the last axis (the L2 norm flash-linear-attention and transformers apply to
 * queries and keys), in f32: in f16 the sum of squares of a large head overflows.
 */
function l2Normalize(x: Tensor, scope: TensorScope): Tensor {
  const wide = x.dtype === 'f32' ? x : scope.track(cast(x, 'f32'));
  const squares = scope.track(sum(scope.track(mul(wide, wide)), { axes: [-1], keepDims: true }));
  const normalized = scope.track(mul(wide, scope.track(rsqrt(scope.track(affine(squares, 1, 1e-6))))));
  return normalized.dtype === x.dtype ? normalized : scope.track(cast(normalized, x.dtype));
}

/**
 * Gated DeltaNet (Qwen3.5, Qwen3-Next) over the normalized rows `h` ([rows, hidden]): in_proj_qkv's queries,
 * keys and values go through the causal depthwise convolution (`causalConv1d`, continuing from the
 * cache's slot `2j`) and SiLU; queries and keys are L2-normalized per head (queries also scaled by
 * dk^−½); β = sigmoid(in_proj_b), the log decay g = −exp(A_log) · softplus(in_proj_a + dt_bias)
 * (`rates` = −exp(A_log)); the gated delta rule (`gatedDeltaRule`, its f32 state in slot `2j + 1`)
 * gives each value head's output, RMS-normalized per head and gated by silu(in_proj_z); out_proj.
 * Each segment continues its own sequence from its own cache.
 */
export function deltaNetBlock(h: Tensor, w: DeltaNetWeights, rates: Tensor, j: number, config: LlamaConfig, segments: readonly Segment[], scope: TensorScope): Tensor {
  const { keyHeads, valueHeads, keyDim: dk, valueDim: dv, convKernel: taps, convDim } = config.deltaNet!;
  const rows = h.shape[0];
  const qkv = linear(h, w.qkv, scope);
  const beta = scope.track(sigmoid(linear(h, w.b, scope)));
  // The log decays in f32, as transformers computes them and the rule takes them.
  const f32 = (t: Tensor) => (t.dtype === 'f32' ? t : scope.track(cast(t, 'f32')));
  const g = scope.track(mul(softplus(scope.track(add(f32(linear(h, w.a, scope)), f32(w.dtBias))), scope), rates));
  const kernel = scope.track(reshape(w.kernel, [convDim, taps]));
  const o = eachRequest(segments, scope, (own, state, n) => {
    const part = convolvedColumns(own(qkv), kernel, undefined, state, 2 * j, scope);
    const q = scope.track(mul(l2Normalize(part(0, keyHeads * dk, [n, keyHeads, dk]), scope), dk ** -0.5));
    const k = l2Normalize(part(keyHeads * dk, keyHeads * dk, [n, keyHeads, dk]), scope);
    const v = part(2 * keyHeads * dk, valueHeads * dv, [n, valueHeads, dv]);
    const result = gatedDeltaRule(q, k, v, scope.track(contiguous(own(g))), scope.track(contiguous(own(beta))), state.read(2 * j + 1));
    state.write(2 * j + 1, result.state);
    return scope.track(result.output);
  });
  const gate = scope.track(silu(scope.track(reshape(linear(h, w.z, scope), [rows, valueHeads, dv]))));
  const gated = scope.track(mul(scope.track(rmsNorm(o, w.norm, config.normEps)), gate));
  return linear(scope.track(reshape(gated, [rows, valueHeads * dv])), w.outProj, scope);
}
