import { hostFloat32, type Tensor } from '@kvkit/tensor-core';
import type { AttentionState } from '../ops/merge-states.js';
import { outputTensor } from './host-data.js';

/** Log-sum-exp merge of partial results given as [output0, lse0, output1, lse1, …]. */
export function mergeAttentionStatesCpu(inputs: Tensor[]): AttentionState {
  const first = inputs[0];
  const dv = first.shape[first.rank - 1];
  const rows = first.size / Math.max(dv, 1);
  const outs: ArrayLike<number>[] = [];
  const lses: ArrayLike<number>[] = [];
  for (let i = 0; i < inputs.length; i += 2) {
    outs.push(hostFloat32(inputs[i]));
    lses.push(hostFloat32(inputs[i + 1]));
  }
  const out = new Float64Array(first.size);
  const lse = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (const l of lses) if (l[r] > m) m = l[r];
    if (m === -Infinity) {
      lse[r] = -Infinity;
      continue; // no part saw a key: zeros
    }
    let total = 0;
    for (let p = 0; p < lses.length; p++) {
      const w = Math.exp(lses[p][r] - m);
      if (w === 0) continue;
      total += w;
      const o = outs[p];
      for (let c = 0; c < dv; c++) out[r * dv + c] += w * o[r * dv + c];
    }
    for (let c = 0; c < dv; c++) out[r * dv + c] /= total;
    lse[r] = m + Math.log(total);
  }
  return {
    output: outputTensor(out, first.shape, first.dtype, first.backend),
    lse: outputTensor(lse, first.shape.slice(0, -1), 'f32', first.backend),
  };
}
