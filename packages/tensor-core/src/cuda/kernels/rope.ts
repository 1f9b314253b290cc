import { arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from '../kernel-api.js';
import { rowMajor } from './layout.js';
import source from './rope.cu';

export const ropeModule = defineCudaModule({ name: 'kvkit-rope', source });

export function registerCudaRopeKernel(): void {
  registerCudaKernel('rope', (backend, [input, positionsIn, invFreqIn], { layout }) => {
    const out = backend.empty(input.shape, input.dtype);
    const [n, d] = input.shape.slice(-2);
    const rows = d === 0 ? 0 : input.size / d;
    if (rows === 0 || n === 0) return out;
    const x = rowMajor(backend, input);
    const positions = rowMajor(backend, positionsIn);
    const invFreq = rowMajor(backend, invFreqIn);
    try {
      backend.launch(ropeModule, `kv_rope_${input.dtype}`, { grid: gridFor(rows * d, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.ptr(backend.address(positions)), arg.bool(positionsIn.dtype === 'u32'),
        arg.ptr(backend.address(invFreq)), arg.i64(rows), arg.i64(n), arg.i64(d), arg.i64(invFreqIn.shape[0]), arg.bool(layout === 'interleaved'),
      ]);
    } finally {
      x.dispose();
      positions.dispose();
      invFreq.dispose();
    }
    return out;
  });
}
