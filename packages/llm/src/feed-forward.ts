import {
  add,
  cast,
  concat,
  div,
  expandDims,
  gather,
  gelu,
  geluTanh,
  indexedMatmul,
  maximum,
  minimum,
  mul,
  relu,
  reshape,
  sigmoid,
  silu,
  slice,
  softmax,
  square,
  sum,
  type Tensor,
  type TensorScope,
  topk,
} from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import { linear, PRODUCT_SUMS } from './linear.js';
import { type MoeConfig, routesLayer } from './moe-config.js';
import { keepBestGroups } from './grouped-routing.js';
import { flatRowEntries } from './row-entries.js';
import { sparseMixerRoute } from './sparse-mixer.js';
import { type XieluParameters, xielu } from './xielu.js';
import type { LayerWeights, MlpWeights, MoeWeights } from './weights.js';

/** ReLU² (Nemotron-H's MLP): relu(x)². */
function relu2(x: Tensor): Tensor {
  const rectified = relu(x);
  try {
    return square(rectified);
  } finally {
    rectified.dispose();
  }
}

const ACTIVATIONS = { silu, gelu_tanh: geluTanh, gelu, relu2 } as const;

/** The layer's feed-forward block on its normalized rows: the mixture of experts where the layer routes, else the dense MLP. */
export function feedForward(h: Tensor, w: LayerWeights, layerIndex: number, config: LlamaConfig, scope: TensorScope): Tensor {
  if (routesLayer(config.moe, layerIndex)) return mixtureOfExperts(h, w.moe!, config, config.moe, scope);
  return mlp(h, w as MlpWeights, config, scope);
}

/**
 * Each row's experts ([n · k] indices, row-major) and their weights ([n, k], f32): the router's
 * scores (a softmax over the experts in f32, or LFM2-MoE's sigmoid of each), the top k of each row
 * (LFM2-MoE chooses by score + expert_bias but weighs by the score; DeepSeek within each row's best
 * groups of experts), renormalized where the family
 * does (over their sum, + 1e-6 for LFM2-MoE), times routed_scaling_factor.
 */
function routeRows(h: Tensor, w: MoeWeights, moe: MoeConfig, scope: TensorScope): { chosen: Tensor; experts: Tensor } {
  const n = h.shape[0];
  const k = moe.expertsPerToken;
  const logits = f32Logits(h, w, scope);
  const f32 = (t: Tensor) => (t.dtype === 'f32' ? t : scope.track(cast(t, 'f32')));
  const scores = scope.track(moe.scoring === 'sigmoid' ? sigmoid(logits) : softmax(logits, -1));
  const choice = w.selectionBias ? scope.track(add(scores, f32(w.selectionBias))) : scores;
  const top = topk(moe.routingGroups ? keepBestGroups(choice, moe.routingGroups, scope) : choice, k);
  scope.track(top.values);
  scope.track(top.indices);
  const experts = scope.track(reshape(top.indices, [n * k]));
  let chosen = top.values;
  if (w.selectionBias) {
    // The scores themselves at the chosen experts: entry (row, expert) of the flattened [n · experts] scores.
    const flat = flatRowEntries(top.indices, moe.experts, scope);
    chosen = scope.track(reshape(scope.track(gather(scope.track(reshape(scores, [n * moe.experts])), flat, 0)), [n, k]));
  }
  if (moe.normalizeTopK) {
    const total = scope.track(sum(chosen, { axes: [-1], keepDims: true }));
    chosen = scope.track(div(chosen, moe.normalizeEpsilon ? scope.track(add(total, moe.normalizeEpsilon)) : total));
  }
  if (moe.routedScale !== 1) chosen = scope.track(mul(chosen, moe.routedScale));
  return { chosen, experts };
}

/** The router's logits [n, experts] in f32 (the routing's arithmetic is f32 whatever the model's dtype). */
function f32Logits(h: Tensor, w: MoeWeights, scope: TensorScope): Tensor {
  const logits = linear(h, w.router, scope);
  return logits.dtype === 'f32' ? logits : scope.track(cast(logits, 'f32'));
}

/**
 * The MLP: down(act(gate(h)) · up(h)) where it is gated (SwiGLU, GeGLU), else down(act(up(h)))
 * (GPT-NeoX, Nemotron-H); Falcon-H1 scales gate(h) before the activation and the output by its
 * mlp_multipliers.
 */
function mlp(h: Tensor, w: MlpWeights & { xielu?: XieluParameters }, config: LlamaConfig, scope: TensorScope): Tensor {
  // Apertus's xIELU takes each layer's own parameters.
  const activation = config.mlpActivation === 'xielu' ? (x: Tensor) => xielu(x, w.xielu!, scope) : ACTIVATIONS[config.mlpActivation];
  const { mlpGate = 1, mlpDown = 1 } = config.falconH1 ?? {};
  const scaled = (t: Tensor, factor: number) => (factor === 1 ? t : scope.track(mul(t, factor)));
  const up = linear(h, w.up, scope);
  const hidden = w.gate ? mul(scope.track(activation(scaled(linear(h, w.gate, scope), mlpGate))), up) : activation(up);
  const down = linear(scope.track(hidden), w.down, scope);
  return mlpDown === 1 ? down : scope.track(mul(down, mlpDown));
}

/**
 * Each (row, expert) pair's hidden activations [pairs, expertSize]: act(gate) · up for gated experts
 * (their gate and up rows in one product, plus gpt-oss's biases), act(up) for ungated ones;
 * gpt-oss's clamped SwiGLU where the mixture has one.
 */
function expertHidden(rows: Tensor, w: MoeWeights, experts: Tensor, config: LlamaConfig, moe: MoeConfig, scope: TensorScope): Tensor {
  // No family routes through xIELU experts (Apertus is dense).
  const activation = ACTIVATIONS[config.mlpActivation as keyof typeof ACTIVATIONS];
  const product = (stack: Tensor) => scope.track(indexedMatmul(rows, stack, experts, { accumulate: PRODUCT_SUMS }));
  if (!w.gateUp) return scope.track(activation(product(w.up!)));
  const [pairs, size] = [rows.shape[0], moe.expertSize];
  const gateUp = withExpertBias(product(w.gateUp), w.gateUpBias, experts, scope);
  const gate = scope.track(slice(gateUp, [0, 0], [pairs, size]));
  const up = scope.track(slice(gateUp, [0, size], [pairs, 2 * size]));
  if (!moe.clampedSwiglu) return scope.track(mul(scope.track(activation(gate)), up));
  // gpt-oss: (clamp(up, ±limit) + 1) · g · σ(alpha · g), with g = min(gate, limit).
  const { alpha, limit } = moe.clampedSwiglu;
  const g = scope.track(minimum(gate, limit));
  const glu = scope.track(mul(g, scope.track(sigmoid(scope.track(mul(g, alpha))))));
  const shifted = scope.track(add(scope.track(minimum(scope.track(maximum(up, -limit)), limit)), 1));
  return scope.track(mul(glu, shifted));
}

/** Each (row, expert) pair's product plus its expert's bias row (gpt-oss's); the product itself where the experts have none. */
function withExpertBias(product: Tensor, bias: Tensor | undefined, experts: Tensor, scope: TensorScope): Tensor {
  if (!bias) return product;
  const rows = scope.track(gather(bias, experts, 0));
  return scope.track(add(product, rows.dtype === product.dtype ? rows : scope.track(cast(rows, product.dtype))));
}

/**
 * A mixture-of-experts MLP on rows h [n, hidden], as transformers computes it: the router's
 * scores in f32 (`routeRows`), each row through its chosen experts (SwiGLU, or ungated: `expertHidden`), and their outputs summed
 * with the chosen weights (Llama 4: each expert's input scaled by its weight, the outputs summed as they are); Qwen2-MoE adds its shared expert scaled by sigmoid(shared_expert_gate(h)),
 * Granite's shared MLP is added as it is.
 * The choice stays on the device: each (row, expert) pair is a row of `indexedMatmul`, which reads
 * only the chosen experts' matrices (stacked at load: gate and up rows together, then down).
 */
function mixtureOfExperts(h: Tensor, w: MoeWeights, config: LlamaConfig, moe: MoeConfig, scope: TensorScope): Tensor {
  const [n, hidden] = h.shape;
  const k = moe.expertsPerToken;
  const pairs = n * k;
  const { chosen, experts } = moe.sparseMixer ? sparseMixerRoute(f32Logits(h, w, scope), moe.sparseMixer.jitter, scope) : routeRows(h, w, moe, scope);
  // Row r of h once for each of its k experts, in the order topk lists them (a copy on the device: nothing uploaded per layer).
  const repeated = () => scope.track(reshape(scope.track(concat(Array<Tensor>(k).fill(scope.track(expandDims(h, 1))), 1)), [pairs, hidden]));
  const routeWeights = scope.track(reshape(chosen.dtype === h.dtype ? chosen : scope.track(cast(chosen, h.dtype)), [pairs, 1]));
  const rows = k === 1 ? h : repeated();
  // Llama 4 scales each expert's input by its weight; the others its output.
  const activated = expertHidden(moe.weighsInputs ? scope.track(mul(rows, routeWeights)) : rows, w, experts, config, moe, scope);
  const outputs = withExpertBias(scope.track(indexedMatmul(activated, w.down, experts, { accumulate: PRODUCT_SUMS })), w.downBias, experts, scope);
  const weighted = moe.weighsInputs ? outputs : scope.track(mul(outputs, routeWeights));
  const routed = scope.track(sum(scope.track(reshape(weighted, [n, k, hidden])), { axes: [1] }));
  if (!w.shared) return routed;
  const shared = mlp(h, w.shared, config, scope);
  const scaled = w.sharedGate ? scope.track(mul(shared, scope.track(sigmoid(linear(h, w.sharedGate, scope))))) : shared;
  return scope.track(add(routed, scaled));
}
