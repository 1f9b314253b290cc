import { add, cast, concat, div, expandDims, gelu, geluTanh, indexedMatmul, mul, reshape, sigmoid, silu, slice, softmax, sum, type Tensor, type TensorScope, topk } from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import { linear, PRODUCT_SUMS } from './linear.js';
import { type MoeConfig, routesLayer } from './moe-config.js';
import type { LayerWeights, MlpWeights, MoeWeights } from './weights.js';

const ACTIVATIONS = { silu, gelu_tanh: geluTanh, gelu } as const;

/** The layer's feed-forward block on its normalized rows: the mixture of experts where the layer routes, else the dense MLP. */
export function feedForward(h: Tensor, w: LayerWeights, layerIndex: number, config: LlamaConfig, scope: TensorScope): Tensor {
  if (routesLayer(config.moe, layerIndex)) return mixtureOfExperts(h, w.moe!, config, config.moe, scope);
  return mlp(h, w as MlpWeights, config, scope);
}

/** The MLP: down(act(gate(h)) · up(h)) where it is gated (SwiGLU, GeGLU), else down(act(up(h))) (GPT-NeoX). */
function mlp(h: Tensor, w: MlpWeights, config: LlamaConfig, scope: TensorScope): Tensor {
  const activation = ACTIVATIONS[config.mlpActivation];
  const up = linear(h, w.up, scope);
  const hidden = w.gate ? mul(scope.track(activation(linear(h, w.gate, scope))), up) : activation(up);
  return linear(scope.track(hidden), w.down, scope);
}

/**
 * A mixture-of-experts MLP on rows h [n, hidden], as transformers computes it: the router's
 * softmax in f32, the top `expertsPerToken` experts of each row (their probabilities renormalized
 * where the family does), each row through its chosen SwiGLU experts, and their outputs summed
 * with those weights; Qwen2-MoE adds its shared expert scaled by sigmoid(shared_expert_gate(h)),
 * Granite's shared MLP is added as it is.
 * The choice stays on the device: each (row, expert) pair is a row of `indexedMatmul`, which reads
 * only the chosen experts' matrices (stacked at load: gate and up rows together, then down).
 */
function mixtureOfExperts(h: Tensor, w: MoeWeights, config: LlamaConfig, moe: MoeConfig, scope: TensorScope): Tensor {
  const [n, hidden] = h.shape;
  const k = moe.expertsPerToken;
  const pairs = n * k;
  const logits = linear(h, w.router, scope);
  const probabilities = scope.track(softmax(logits.dtype === 'f32' ? logits : scope.track(cast(logits, 'f32')), -1));
  const top = topk(probabilities, k);
  scope.track(top.values);
  scope.track(top.indices);
  const chosen = moe.normalizeTopK ? scope.track(div(top.values, scope.track(sum(top.values, { axes: [-1], keepDims: true })))) : top.values;
  const experts = scope.track(reshape(top.indices, [pairs]));
  // Row r of h once for each of its k experts, in the order topk lists them (a copy on the device: nothing uploaded per layer).
  const repeated = () => scope.track(reshape(scope.track(concat(Array<Tensor>(k).fill(scope.track(expandDims(h, 1))), 1)), [pairs, hidden]));
  const rows = k === 1 ? h : repeated();
  const size = moe.expertSize;
  const gateUp = scope.track(indexedMatmul(rows, w.gateUp, experts, { accumulate: PRODUCT_SUMS }));
  const gate = scope.track(slice(gateUp, [0, 0], [pairs, size]));
  const up = scope.track(slice(gateUp, [0, size], [pairs, 2 * size]));
  const activated = scope.track(mul(scope.track(ACTIVATIONS[config.mlpActivation](gate)), up));
  const outputs = scope.track(indexedMatmul(activated, w.down, experts, { accumulate: PRODUCT_SUMS }));
  const routeWeights = scope.track(reshape(chosen.dtype === h.dtype ? chosen : scope.track(cast(chosen, h.dtype)), [pairs, 1]));
  const weighted = scope.track(mul(outputs, routeWeights));
  const routed = scope.track(sum(scope.track(reshape(weighted, [n, k, hidden])), { axes: [1] }));
  if (!w.shared) return routed;
  const shared = mlp(h, w.shared, config, scope);
  const scaled = w.sharedGate ? scope.track(mul(shared, scope.track(sigmoid(linear(h, w.sharedGate, scope))))) : shared;
  return scope.track(add(routed, scaled));
}
