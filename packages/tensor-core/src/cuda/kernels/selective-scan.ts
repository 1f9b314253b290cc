import type { Tensor } from '../../tensor.js';
import { arg, defineCudaModule, registerCudaKernel } from '../kernel-api.js';
import { withRowMajor } from './layout.js';
import source from './selective-scan.cu';

export const selectiveScanModule = defineCudaModule({ name: 'kvkit-selective-scan', source });

/** Blocks in x before the grid wraps into y (the pairs of a large model exceed no 2-D grid). */
const GRID_X = 65535;

export function registerCudaSelectiveScanKernel(): void {
  registerCudaKernel('selectiveScan', (backend, inputs): [Tensor, Tensor] => {
    const [n, heads, headDim] = inputs[0].shape;
    const [, groups, dState] = inputs[3].shape;
    const y = backend.empty([n, heads, headDim], inputs[0].dtype);
    const next = backend.empty([heads, headDim, dState], 'f32');
    const pairs = heads * headDim;
    if (pairs * dState === 0) return [y, next];
    return withRowMajor(backend, inputs, ([x, dt, a, b, c, state]) => {
      const grid = [Math.min(pairs, GRID_X), Math.ceil(pairs / GRID_X)] as const;
      backend.launch(selectiveScanModule, `kv_selective_scan_${x.dtype}`, { grid, block: 32 }, [
        arg.ptr(backend.address(y)), arg.ptr(backend.address(next)), arg.ptr(backend.address(x)), arg.ptr(backend.address(dt)), arg.ptr(backend.address(a)),
        arg.ptr(backend.address(b)), arg.ptr(backend.address(c)), arg.ptr(backend.address(state)),
        arg.i64(n), arg.i64(heads), arg.i64(headDim), arg.i64(groups), arg.i64(dState), arg.i32(a.rank === 2 ? 1 : 0),
      ]);
      return [y, next];
    });
  });
}
