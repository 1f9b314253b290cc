import { registerKernel } from '../../kernel-registry.js';
import type { CpuBackend } from '../cpu-backend.js';
import { outputBuffer, readIndices, readNumbers, wrapOutput } from '../host-data.js';

export function registerRopeKernel(): void {
  registerKernel<'rope', CpuBackend>('rope', 'cpu', (backend, [x, positions, invFreq], { layout }) => {
    const values = readNumbers(x);
    const pos = readIndices(positions);
    const freq = readNumbers(invFreq);
    const [n, d] = x.shape.slice(-2);
    const half = freq.length;
    // cos/sin per (token, frequency), with the angle rounded to f32 as HF computes it.
    const cos = new Float64Array(n * half);
    const sin = new Float64Array(n * half);
    for (let t = 0; t < n; t++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(pos[t] * freq[i]);
        cos[t * half + i] = Math.fround(Math.cos(angle));
        sin[t * half + i] = Math.fround(Math.sin(angle));
      }
    }
    const out = outputBuffer(x.dtype, x.size);
    out.set(values);
    const rows = n === 0 ? 0 : x.size / d;
    for (let r = 0; r < rows; r++) {
      const t = r % n;
      const base = r * d;
      for (let i = 0; i < half; i++) {
        const lo = layout === 'half' ? base + i : base + 2 * i;
        const hi = layout === 'half' ? base + i + half : base + 2 * i + 1;
        const c = cos[t * half + i];
        const s = sin[t * half + i];
        const x0 = values[lo];
        const x1 = values[hi];
        out[lo] = x0 * c - x1 * s;
        out[hi] = x1 * c + x0 * s;
      }
    }
    return wrapOutput(backend, x.shape, x.dtype, out);
  });
}
