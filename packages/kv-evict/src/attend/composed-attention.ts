import { add, cast, concat, keyVisible, matmul, reshape, scale, slice, softmax, type Tensor, tanh, tensor, TensorScope } from '@kvkit/tensor-core';
import type { HeadKeys, ResolvedMask } from './head-keys.js';

/** Rows of probabilities materialized at once stay below this many numbers. */
const BLOCK_ELEMENTS = 1 << 20;

/**
 * Attention of one KV head's query group composed from tensor-core ops (matmul, softmax) instead of
 * the fused kernel, for what the fused kernel does not offer: per-key log weights and per-row
 * probabilities. Rows are processed in blocks so at most ~1M probabilities exist at a time.
 *
 * `onBlock(rowStart, probabilities)` receives each block's probabilities as [group, rows, n] f32
 * (rows that see no key are all zeros). With `output`, also returns the attention output
 * [group, m, dv] in q's dtype.
 */
export function composedAttention(
  q: Tensor,
  head: HeadKeys,
  queryPositions: Int32Array,
  mask: ResolvedMask,
  options: { output: boolean; onBlock?: (rowStart: number, rows: number, probabilities: Float32Array) => void },
): Tensor | undefined {
  const [group, m, d] = q.shape;
  const n = head.positions.length;
  const dv = head.values.shape[2];
  const scope = new TensorScope();
  try {
    const keys = scope.track(reshape(asF32(head.keys, scope), [n, d]));
    const values = options.output ? scope.track(reshape(asF32(head.values, scope), [n, dv])) : undefined;
    const block = Math.max(1, Math.floor(BLOCK_ELEMENTS / Math.max(1, group * n)));
    const outputs: Tensor[] = [];
    for (let start = 0; start < m; start += block) {
      const rows = Math.min(block, m - start);
      const blockScope = new TensorScope();
      try {
        const { bias, empty } = maskBias(head, queryPositions.subarray(start, start + rows), mask);
        const qRows = blockScope.track(slice(q, [0, start, 0], [group, start + rows, d]));
        const qFlat = blockScope.track(reshape(asF32(qRows, blockScope), [group * rows, d]));
        let scores = blockScope.track(scale(blockScope.track(matmul(qFlat, keys, { transposeB: true })), mask.scale));
        if (mask.softcap > 0) scores = blockScope.track(scale(blockScope.track(tanh(blockScope.track(scale(scores, 1 / mask.softcap)))), mask.softcap));
        const shaped = blockScope.track(reshape(scores, [group, rows, n]));
        const biased = blockScope.track(add(shaped, blockScope.track(tensor(bias, [rows, n], { dtype: 'f32', backend: q.backend }))));
        const probabilities = blockScope.track(softmax(biased, -1));
        let probs: Float32Array | undefined;
        if (options.onBlock || empty.length > 0) {
          probs = Float32Array.from(probabilities.readFloat32Sync());
          for (const r of empty) for (let g = 0; g < group; g++) probs.fill(0, (g * rows + r) * n, (g * rows + r + 1) * n);
          options.onBlock?.(start, rows, probs);
        }
        if (values) {
          const weights = probs && empty.length > 0 ? blockScope.track(tensor(probs, [group * rows, n], { dtype: 'f32', backend: q.backend })) : blockScope.track(reshape(probabilities, [group * rows, n]));
          outputs.push(scope.track(reshape(blockScope.track(matmul(weights, values)), [group, rows, dv])));
        }
      } finally {
        blockScope.dispose();
      }
    }
    if (!values) return undefined;
    const joined = outputs.length === 1 ? outputs[0] : scope.track(concat(outputs, 1));
    return cast(joined, q.dtype);
  } finally {
    scope.dispose();
  }
}

function asF32(t: Tensor, scope: TensorScope): Tensor {
  return t.dtype === 'f32' ? t : scope.track(cast(t, 'f32'));
}

/**
 * Per (row, key): the key's log weight where the query may see it, −∞ where it may not. Rows that
 * see no key get zeros (their probabilities are cleared afterwards, like the fused kernel's zeros).
 */
function maskBias(head: HeadKeys, queryPositions: Int32Array, mask: ResolvedMask): { bias: Float32Array; empty: number[] } {
  const n = head.positions.length;
  const rows = queryPositions.length;
  const bias = new Float32Array(rows * n);
  const empty: number[] = [];
  for (let r = 0; r < rows; r++) {
    let visible = 0;
    for (let j = 0; j < n; j++) {
      if (keyVisible(queryPositions[r], head.positions[j], mask.causal, mask.window)) {
        bias[r * n + j] = head.logWeights ? head.logWeights[j] : 0;
        visible++;
      } else {
        bias[r * n + j] = -Infinity;
      }
    }
    if (visible === 0) {
      bias.fill(0, r * n, (r + 1) * n);
      empty.push(r);
    }
  }
  return { bias, empty };
}
