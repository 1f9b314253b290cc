import { cast, concat, contiguous, InvalidConfigError, reshape, sigmoid, slice, sub, type Tensor, type TensorScope, mul } from '@kvkit/tensor-core';
import { layerWindow } from './config.js';
import type { LayerContext, Segment } from './decoder-layer.js';

/** The absolute position of every row of the batch, in row order. */
export function batchPositions(segments: readonly Segment[]): Int32Array {
  return segments.length === 1 ? segments[0].positions : Int32Array.from(segments.flatMap((s) => [...s.positions]));
}

/** Rows [start, start + length) of a [heads, rows, headDim] tensor, contiguous. */
function rowsOf(t: Tensor, segment: Segment, whole: boolean, scope: TensorScope): Tensor {
  if (whole) return t;
  const view = scope.track(slice(t, [0, segment.start, 0], [t.shape[0], segment.start + segment.length, t.shape[2]]));
  return scope.track(contiguous(view));
}

/**
 * Each segment's K/V into its cache layer (keys before or after RoPE, as the layer asks), then its
 * queries' attention through that layer, with gpt-oss's sinks where the layer has them;
 * [qHeads, rows, headDim] for the whole batch.
 */
export function attendThroughCaches(
  q: Tensor,
  keyPreRope: Tensor,
  key: Tensor,
  value: Tensor,
  layerIndex: number,
  cacheLayer: number,
  sinks: Tensor | undefined,
  ctx: LayerContext,
  scope: TensorScope,
): Tensor {
  const { config, segments } = ctx;
  const whole = segments.length === 1;
  const window = layerWindow(config, layerIndex);
  const { attentionScale: scale, attentionSoftcap: softcap } = config;
  const outputs = segments.map((segment) => {
    const layer = segment.cache.layers[cacheLayer];
    const keys = rowsOf(layer.keyInput === 'pre-rope' ? keyPreRope : key, segment, whole, scope);
    // Values that are the keys (DeepSeek's latent head, `CacheSpec.valuesAreKeys`) go in as the keys' own tensor.
    layer.append(keys, value === key ? keys : rowsOf(value, segment, whole, scope), {
      positions: segment.positions,
      phase: segment.phase,
      tokenIds: segment.tokenIds,
    });
    const result = layer.attend(rowsOf(q, segment, whole, scope), {
      positions: segment.positions,
      ...(window ? { window } : {}),
      ...(scale !== undefined ? { scale } : {}),
      ...(softcap !== undefined ? { softcap } : {}),
      ...(sinks ? { returnLse: true } : {}),
    });
    if (result.statistics) {
      result.statistics.keySum.dispose();
      result.statistics.keyMax.dispose();
    }
    const output = scope.track(result.output);
    if (!sinks) return output;
    return withSinks(output, scope.track(requireLse(result.lse, cacheLayer)), sinks, scope);
  });
  return whole ? outputs[0] : scope.track(concat(outputs, 1));
}

/**
 * Attention whose softmax also spans a learned logit per head that weighs no value (gpt-oss's
 * sinks): each row's output over its keys, times Σ e^s / (Σ e^s + e^sink) = σ(lse − sink), from the
 * layer's log-sum-exp. A row that saw no key stays zero.
 */
function withSinks(output: Tensor, lse: Tensor, sinks: Tensor, scope: TensorScope): Tensor {
  const [heads, rows] = lse.shape;
  const sinkColumn = scope.track(reshape(sinks.dtype === 'f32' ? sinks : scope.track(cast(sinks, 'f32')), [heads, 1]));
  const share = scope.track(reshape(scope.track(sigmoid(scope.track(sub(lse, sinkColumn)))), [heads, rows, 1]));
  return scope.track(mul(output, share.dtype === output.dtype ? share : scope.track(cast(share, output.dtype))));
}

/** The layer's log-sum-exp, which every cache layer of a model with sinks must give (`assertCacheGivesLse` checks before the pass). */
function requireLse(lse: Tensor | undefined, cacheLayer: number): Tensor {
  if (!lse) throw new InvalidConfigError(`cache layer ${cacheLayer} returned no log-sum-exp, which the model's attention sinks need`, { layer: cacheLayer });
  return lse;
}

