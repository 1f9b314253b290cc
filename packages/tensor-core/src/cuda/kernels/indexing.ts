import { bytesPerElement } from '../../dtype.js';
import { runKernel } from '../../kernel-registry.js';
import type { Tensor } from '../../tensor.js';
import type { CudaBackend } from '../cuda-backend.js';
import { arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from '../kernel-api.js';
import { linesAlong as lines } from '../../cpu/kernels/lines.js';
import { materialize, withRowMajor } from './layout.js';
import source from './indexing.cu';

export const indexingModule = defineCudaModule({ name: 'kvkit-indexing', source });

/** Accumulates `updates` into the row-major tensor `acc` (f32, i32 or u32) at `indices` along the axis. */
function scatterAdd(backend: CudaBackend, acc: Tensor, updates: Tensor, indices: Tensor, axis: number, shape: readonly number[]): void {
  const { outer, length, inner } = lines(shape, axis);
  const count = indices.shape[0];
  backend.launch(indexingModule, `kv_scatter_add_${acc.dtype}_${updates.dtype}`, { grid: gridFor(outer * count * inner, backend), block: BLOCK }, [
    arg.ptr(backend.address(acc)), arg.ptr(backend.address(updates)), arg.ptr(backend.address(indices)), arg.bool(indices.dtype === 'u32'),
    arg.i64(outer), arg.i64(length), arg.i64(count), arg.i64(inner), arg.ptr(backend.deviceCheckFlag('scatter')),
  ]);
}

export function registerCudaIndexingKernels(): void {
  registerCudaKernel('gather', (backend, [input, indicesIn], { axis }) => {
    const count = indicesIn.shape[0];
    const shape = input.shape.map((d, i) => (i === axis ? count : d));
    const out = backend.empty(shape, input.dtype);
    const { outer, length, inner } = lines(input.shape, axis);
    if (out.size === 0) return out;
    return withRowMajor(backend, [input, indicesIn], ([x, indices]) => {
      backend.launch(indexingModule, `kv_gather_b${bytesPerElement(input.dtype)}`, { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.ptr(backend.address(indices)), arg.bool(indices.dtype === 'u32'),
        arg.i64(outer), arg.i64(length), arg.i64(count), arg.i64(inner), arg.ptr(backend.deviceCheckFlag('gather')),
      ]);
      return out;
    });
  });

  registerCudaKernel('scatter', (backend, [input, indicesIn, updatesIn], { axis, mode }) => {
    const count = indicesIn.shape[0];
    const { outer, length, inner } = lines(input.shape, axis);
    if (count === 0 || input.size === 0) return materialize(backend, input);
    return withRowMajor(backend, [indicesIn, updatesIn], ([indices, updates]) => {
      if (mode === 'replace') {
        const out = materialize(backend, input);
        const winner = backend.empty([length], 'i32');
        try {
          backend.runtime.memset(backend.address(winner), 0xffffffff, length, 4); // −1: no update yet
          backend.launch(indexingModule, 'kv_scatter_winners', { grid: gridFor(count, backend), block: BLOCK }, [
            arg.ptr(backend.address(winner)), arg.ptr(backend.address(indices)), arg.bool(indices.dtype === 'u32'), arg.i64(count), arg.i64(length),
            arg.ptr(backend.deviceCheckFlag('scatter')),
          ]);
          backend.launch(indexingModule, `kv_scatter_replace_b${bytesPerElement(input.dtype)}`, { grid: gridFor(outer * count * inner, backend), block: BLOCK }, [
            arg.ptr(backend.address(out)), arg.ptr(backend.address(updates)), arg.ptr(backend.address(indices)), arg.bool(indices.dtype === 'u32'),
            arg.ptr(backend.address(winner)), arg.i64(outer), arg.i64(length), arg.i64(count), arg.i64(inner),
          ]);
        } finally {
          winner.dispose();
        }
        return out;
      }
      const dtype = input.dtype;
      if (dtype === 'f32' || dtype === 'i32' || dtype === 'u32') {
        const out = materialize(backend, input);
        scatterAdd(backend, out, updates, indices, axis, input.shape);
        return out;
      }
      // 16-bit floats accumulate in f32 and bytes in i32, then convert back once.
      const acc = runKernel('cast', [input], { dtype: dtype === 'f16' || dtype === 'bf16' ? 'f32' : 'i32' });
      try {
        scatterAdd(backend, acc, updates, indices, axis, input.shape);
        if (dtype === 'f16' || dtype === 'bf16') return runKernel('cast', [acc], { dtype });
        const out = backend.empty(input.shape, dtype);
        backend.launch(indexingModule, 'kv_wrap_i32_to_b1', { grid: gridFor(out.size, backend), block: BLOCK }, [
          arg.ptr(backend.address(out)), arg.ptr(backend.address(acc)), arg.i64(out.size),
        ]);
        return out;
      } finally {
        acc.dispose();
      }
    });
  });
}

