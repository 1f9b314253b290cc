import { add, contiguous, mul, reshape, rmsNorm, selectiveScan, silu, slice, type Tensor, type TensorScope } from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import { convolvedColumns, eachRequest } from './continued-convolution.js';
import type { Segment } from './decoder-layer.js';
import { linear } from './linear.js';
import { softplus } from './mamba-mixer.js';
import type { Mamba1Weights } from './weights.js';

/**
 * Jamba's Mamba-1 mixer over the normalized rows `h` ([rows, hidden]): in_proj gives x and the gate
 * z; x goes through the causal depthwise convolution and SiLU; x_proj gives the step's inputs, B and
 * C, each through its RMSNorm (dt_layernorm, b_layernorm, c_layernorm); dt = softplus(dt_proj(step))
 * per channel; the state-space recurrence (`selectiveScan`, each channel a head of one with its own
 * decay rate per state entry, `a` = −exp(A_log) [d_inner, dState]) gives y, plus D · x; y ⊙ silu(z)
 * and out_proj. Each segment continues its own sequence from its cache's recurrent state: the
 * convolution's last taps − 1 rows in slot `2j` and the f32 scan state [d_inner, 1, dState] in
 * slot `2j + 1`, for the layer's index j among the Mamba layers.
 */
export function mamba1Block(h: Tensor, w: Mamba1Weights, a: Tensor, j: number, config: LlamaConfig, segments: readonly Segment[], scope: TensorScope): Tensor {
  const { inner, dState, dtRank, convKernel: taps } = config.mamba1!;
  const eps = config.normEps;
  const projected = linear(h, w.inProj, scope);
  const rows = projected.shape[0];
  const x = scope.track(slice(projected, [0, 0], [rows, inner]));
  const z = scope.track(slice(projected, [0, inner], [rows, 2 * inner]));
  const kernel = scope.track(reshape(w.kernel, [inner, taps]));
  const y = eachRequest(segments, scope, (own, state, n) => {
    const convolved = convolvedColumns(own(x), kernel, w.kernelBias, state, 2 * j, scope)(0, inner, [n, inner]);
    const params = linear(convolved, w.xProj, scope);
    const normed = (from: number, size: number, weight: Tensor) => scope.track(rmsNorm(scope.track(contiguous(scope.track(slice(params, [0, from], [n, from + size])))), weight, eps));
    const dt = softplus(linear(normed(0, dtRank, w.dtNorm), w.dtProj, scope), scope);
    const b = scope.track(reshape(normed(dtRank, dState, w.bNorm), [n, 1, dState]));
    const c = scope.track(reshape(normed(dtRank + dState, dState, w.cNorm), [n, 1, dState]));
    const scan = selectiveScan(scope.track(reshape(convolved, [n, inner, 1])), dt, a, b, c, state.read(2 * j + 1));
    scope.track(scan.y);
    state.write(2 * j + 1, scan.state);
    const skip = scope.track(mul(convolved, w.d));
    return scope.track(add(scope.track(reshape(scan.y, [n, inner])), skip));
  });
  return linear(scope.track(mul(y, scope.track(silu(z)))), w.outProj, scope);
}
