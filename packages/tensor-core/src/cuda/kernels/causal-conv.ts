import { arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from '../kernel-api.js';
import source from './causal-conv.cu';
import { withRowMajor } from './layout.js';

export const causalConvModule = defineCudaModule({ name: 'kvkit-causal-conv', source });

export function registerCudaCausalConvKernel(): void {
  registerCudaKernel('causalConv1d', (backend, [windowIn, weightIn, biasIn]) => {
    const [rows, channels] = windowIn.shape;
    const taps = weightIn.shape[1];
    const n = rows - taps + 1;
    const out = backend.empty([n, channels], windowIn.dtype);
    if (n * channels === 0) return out;
    return withRowMajor(backend, [windowIn, weightIn, biasIn], ([window, weight, bias]) => {
      backend.launch(causalConvModule, `kv_causal_conv1d_${windowIn.dtype}`, { grid: gridFor(n * channels, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(window)), arg.ptr(backend.address(weight)), arg.ptr(bias ? backend.address(bias) : 0),
        arg.i64(n), arg.i64(channels), arg.i64(taps),
      ]);
      return out;
    });
  });
}
