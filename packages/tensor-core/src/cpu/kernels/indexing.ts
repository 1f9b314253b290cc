import { allocateHostArray } from '../../dtype.js';
import { registerKernel } from '../../kernel-registry.js';
import type { CpuBackend } from '../cpu-backend.js';
import { outputBuffer, readIndices, readNumbers, readRaw, wrapOutput, wrapRaw } from '../host-data.js';
import { linesAlong } from './lines.js';

export function registerIndexingKernels(): void {
  registerKernel<'gather', CpuBackend>('gather', 'cpu', (backend, [x, indices], { axis }) => {
    const src = readRaw(x);
    const idx = readIndices(indices);
    const { outer, length, inner } = linesAlong(x.shape, axis);
    const out = allocateHostArray(x.dtype, outer * idx.length * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < idx.length; i++) {
        const from = (o * length + idx[i]) * inner;
        out.set(src.subarray(from, from + inner), (o * idx.length + i) * inner);
      }
    }
    const shape = x.shape.map((d, i) => (i === axis ? idx.length : d));
    return wrapRaw(backend, shape, x.dtype, out);
  });

  registerKernel<'scatter', CpuBackend>('scatter', 'cpu', (backend, [x, indices, updates], { axis, mode }) => {
    const idx = readIndices(indices);
    const { outer, length, inner } = linesAlong(x.shape, axis);
    if (mode === 'replace') {
      const out = readRaw(x).slice();
      const upd = readRaw(updates);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < idx.length; i++) {
          const from = (o * idx.length + i) * inner;
          out.set(upd.subarray(from, from + inner), (o * length + idx[i]) * inner);
        }
      }
      return wrapRaw(backend, x.shape, x.dtype, out);
    }
    const out = outputBuffer(x.dtype, x.size);
    out.set(readNumbers(x));
    const upd = readNumbers(updates);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < idx.length; i++) {
        const from = (o * idx.length + i) * inner;
        const to = (o * length + idx[i]) * inner;
        for (let j = 0; j < inner; j++) out[to + j] += upd[from + j];
      }
    }
    return wrapOutput(backend, x.shape, x.dtype, out);
  });
}
