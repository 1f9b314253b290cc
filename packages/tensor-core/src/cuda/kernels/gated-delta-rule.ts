import type { Tensor } from '../../tensor.js';
import { arg, defineCudaModule, registerCudaKernel } from '../kernel-api.js';
import { withRowMajor } from './layout.js';
import source from './gated-delta-rule.cu';

export const gatedDeltaRuleModule = defineCudaModule({ name: 'kvkit-gated-delta-rule', source });

/** Threads per block: each owns one (head, value column) of the state. */
const BLOCK = 128;
/** Blocks in x before the grid wraps into y. */
const GRID_X = 65535;

export function registerCudaGatedDeltaRuleKernel(): void {
  registerCudaKernel('gatedDeltaRule', (backend, inputs): [Tensor, Tensor] => {
    const [n, keyHeads, dk] = inputs[0].shape;
    const [, heads, dv] = inputs[2].shape;
    const output = backend.empty([n, heads, dv], inputs[0].dtype);
    const next = backend.empty([heads, dk, dv], 'f32');
    const columns = heads * dv;
    if (columns * dk === 0) return [output, next];
    return withRowMajor(backend, inputs, ([q, k, v, g, beta, state]) => {
      const blocks = Math.ceil(columns / BLOCK);
      const grid = [Math.min(blocks, GRID_X), Math.ceil(blocks / GRID_X)] as const;
      backend.launch(gatedDeltaRuleModule, `kv_gated_delta_rule_${q.dtype}`, { grid, block: BLOCK }, [
        arg.ptr(backend.address(output)), arg.ptr(backend.address(next)), arg.ptr(backend.address(q)), arg.ptr(backend.address(k)), arg.ptr(backend.address(v)),
        arg.ptr(backend.address(g)), arg.ptr(backend.address(beta)), arg.ptr(backend.address(state)),
        arg.i64(n), arg.i64(keyHeads), arg.i64(heads), arg.i64(dk), arg.i64(dv),
      ]);
      return [output, next];
    });
  });
}
