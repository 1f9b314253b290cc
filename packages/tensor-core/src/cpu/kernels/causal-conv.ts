import { registerKernel } from '../../kernel-registry.js';
import type { CpuBackend } from '../cpu-backend.js';
import { outputBuffer, readNumbers, wrapOutput } from '../host-data.js';

export function registerCausalConvKernel(): void {
  registerKernel<'causalConv1d', CpuBackend>('causalConv1d', 'cpu', (backend, [window, weight, bias]) => {
    const [rows, channels] = window.shape;
    const taps = weight.shape[1];
    const n = rows - taps + 1;
    const x = readNumbers(window);
    const w = readNumbers(weight);
    const b = bias ? readNumbers(bias) : undefined;
    const out = outputBuffer(window.dtype, n * channels);
    const f = Math.fround;
    for (let t = 0; t < n; t++) {
      for (let c = 0; c < channels; c++) {
        // In f32, tap by tap, as the GPU kernels sum.
        let sum = 0;
        for (let j = 0; j < taps; j++) sum = f(sum + f(x[(t + j) * channels + c] * w[c * taps + j]));
        out[t * channels + c] = b ? f(sum + b[c]) : sum;
      }
    }
    return wrapOutput(backend, [n, channels], window.dtype, out);
  });
}
