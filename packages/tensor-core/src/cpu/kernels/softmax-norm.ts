import { registerKernel } from '../../kernel-registry.js';
import type { CpuBackend } from '../cpu-backend.js';
import { outputBuffer, readNumbers, wrapOutput } from '../host-data.js';
import { forEachLine, linesAlong } from './lines.js';

export function registerSoftmaxNormKernels(): void {
  registerKernel<'softmax', CpuBackend>('softmax', 'cpu', (backend, [x], { axis, log }) => {
    const values = readNumbers(x);
    const out = outputBuffer(x.dtype, x.size);
    const lines = linesAlong(x.shape, axis);
    forEachLine(lines, (start, stride) => {
      let m = -Infinity;
      for (let i = 0, p = start; i < lines.length; i++, p += stride) {
        const v = values[p];
        if (v > m || v !== v) m = v;
      }
      let s = 0;
      for (let i = 0, p = start; i < lines.length; i++, p += stride) s += Math.exp(values[p] - m);
      if (log) {
        const lse = m + Math.log(s);
        for (let i = 0, p = start; i < lines.length; i++, p += stride) out[p] = values[p] - lse;
      } else {
        for (let i = 0, p = start; i < lines.length; i++, p += stride) out[p] = Math.exp(values[p] - m) / s;
      }
    });
    return wrapOutput(backend, x.shape, x.dtype, out);
  });

  registerKernel<'rmsNorm', CpuBackend>('rmsNorm', 'cpu', (backend, [x, weight], { eps }) => {
    const values = readNumbers(x);
    const w = readNumbers(weight);
    const d = x.shape[x.rank - 1];
    const out = outputBuffer(x.dtype, x.size);
    for (let start = 0; start < values.length; start += d) {
      let ss = 0;
      for (let i = 0; i < d; i++) ss += values[start + i] * values[start + i];
      const inv = 1 / Math.sqrt(ss / d + eps);
      for (let i = 0; i < d; i++) out[start + i] = values[start + i] * inv * w[i];
    }
    return wrapOutput(backend, x.shape, x.dtype, out);
  });

  registerKernel<'layerNorm', CpuBackend>('layerNorm', 'cpu', (backend, [x, weight, bias], { eps }) => {
    const values = readNumbers(x);
    const w = readNumbers(weight);
    const b = bias ? readNumbers(bias) : undefined;
    const d = x.shape[x.rank - 1];
    const out = outputBuffer(x.dtype, x.size);
    for (let start = 0; start < values.length; start += d) {
      let mean = 0;
      for (let i = 0; i < d; i++) mean += values[start + i];
      mean /= d;
      let variance = 0;
      for (let i = 0; i < d; i++) variance += (values[start + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(variance / d + eps);
      for (let i = 0; i < d; i++) out[start + i] = (values[start + i] - mean) * inv * w[i] + (b ? b[i] : 0);
    }
    return wrapOutput(backend, x.shape, x.dtype, out);
  });
}
