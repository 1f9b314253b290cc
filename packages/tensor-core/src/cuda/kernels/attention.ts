import type { AttentionResult } from '../../ops/attention.js';
import { arg, defineCudaModule, registerCudaKernel } from '../kernel-api.js';
import { rowMajor } from './layout.js';
import source from './attention.cu';

export const attentionModule = defineCudaModule({ name: 'kvkit-attention', source });

const WARPS = 4; // ATT_WARPS in attention.cu

export function registerCudaAttentionKernel(): void {
  registerCudaKernel('attention', (backend, inputs, { scale, causal, window, softcap, statistics, lse: wantLse }): AttentionResult => {
    const [qHeads, m, d] = inputs[0].shape;
    const [kvHeads, n] = inputs[1].shape;
    const dv = inputs[2].shape[2];
    const output = backend.empty([qHeads, m, dv], inputs[0].dtype);
    const keySum = statistics ? backend.zeros([qHeads, n], 'f32') : undefined;
    const keyMax = statistics ? backend.zeros([qHeads, n], 'f32') : undefined;
    const lse = wantLse ? backend.empty([qHeads, m], 'f32') : undefined;
    if (qHeads > 0 && m > 0 && dv > 0) {
      const [q, k, v, qPos, kPos] = inputs.map((t) => rowMajor(backend, t));
      try {
        const sharedBytes = 4 * (d + WARPS * dv + 3 * WARPS);
        backend.launch(attentionModule, `kv_attention_${q.dtype}_${k.dtype}`, { grid: [m, qHeads], block: WARPS * 32, sharedBytes }, [
          arg.ptr(backend.address(output)), arg.ptr(keySum ? backend.address(keySum) : 0), arg.ptr(keyMax ? backend.address(keyMax) : 0), arg.ptr(lse ? backend.address(lse) : 0),
          arg.ptr(backend.address(q)), arg.ptr(backend.address(k)), arg.ptr(backend.address(v)), arg.ptr(backend.address(qPos)), arg.ptr(backend.address(kPos)),
          arg.i32(qHeads), arg.i32(kvHeads), arg.i32(m), arg.i32(n), arg.i32(d), arg.i32(dv),
          arg.f32(scale), arg.bool(causal), arg.i32(window), arg.f32(softcap),
        ]);
      } finally {
        for (const t of [q, k, v, qPos, kPos]) t.dispose();
      }
    }
    const rowLse = lse ? { lse } : {};
    if (!keySum || !keyMax) return { output, ...rowLse };
    return { output, ...rowLse, statistics: { keySum, keyMax } };
  });
}
