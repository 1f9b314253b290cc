import type { Tensor } from '@kvkit/tensor-core';
import { f16ArrayToF32 } from '@kvkit/tensor-core';
import { hostFloats, outputTensor } from './host-data.js';

/** Neighbourhood max/avg pooling of every row of `scores` along its last axis (stride 1, same length). */
export function poolKeyScoresCpu(scores: Tensor, attrs: { kernelSize: number; mode: 'max' | 'avg' }): Tensor {
  const data = hostFloats(scores);
  const x = data instanceof Uint16Array ? f16ArrayToF32(data) : data;
  const n = scores.shape[scores.rank - 1];
  const rows = n === 0 ? 0 : x.length / n;
  const half = (attrs.kernelSize - 1) / 2;
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    for (let j = 0; j < n; j++) {
      const lo = Math.max(0, j - half);
      const hi = Math.min(n - 1, j + half);
      if (attrs.mode === 'max') {
        let best = -Infinity;
        for (let t = lo; t <= hi; t++) if (x[base + t] > best || x[base + t] !== x[base + t]) best = x[base + t];
        out[base + j] = best;
      } else {
        let sum = 0;
        for (let t = lo; t <= hi; t++) sum += x[base + t];
        out[base + j] = sum / attrs.kernelSize;
      }
    }
  }
  return outputTensor(out, scores.shape, scores.dtype, scores.backend);
}
