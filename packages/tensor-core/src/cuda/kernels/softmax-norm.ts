import { runKernel } from '../../kernel-registry.js';
import { sizeOf } from '../../shape.js';
import { arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from '../kernel-api.js';
import { withRowMajor } from './layout.js';
import rowResidentHeader from './row-resident.cuh';
import { rowResidentLaunch } from './row-resident.js';
import source from './softmax-norm.cu';

export const softmaxNormModule = defineCudaModule({ name: 'kvkit-softmax-norm', source, headers: { 'row-resident.cuh': rowResidentHeader } });

/** Blocks for the multi-pass block-per-row kernels (rows too long to hold in registers): one per row, capped (the kernels loop over the rest). */
const rowGrid = (rows: number): number => Math.max(1, Math.min(rows, 65535));

export function registerCudaSoftmaxNormKernels(): void {
  registerCudaKernel('softmax', (backend, [input], { axis, log }) => {
    const out = backend.empty(input.shape, input.dtype);
    if (input.size === 0) return out;
    return withRowMajor(backend, [input], ([x]) => {
      const outer = sizeOf(input.shape.slice(0, axis));
      const length = input.shape[axis];
      const inner = sizeOf(input.shape.slice(axis + 1));
      const resident = inner === 1 ? rowResidentLaunch(input.dtype, length, outer, [backend.address(x), backend.address(out)]) : undefined;
      if (resident) {
        backend.launch(softmaxNormModule, `kv_softmax_resident_${input.dtype}_${resident.variant}`, { grid: resident.grid, block: resident.block }, [
          arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.i64(outer), arg.i64(length), arg.i32(resident.lanes), arg.bool(log),
        ]);
      } else if (inner === 1) {
        backend.launch(softmaxNormModule, `kv_softmax_rows_${input.dtype}`, { grid: rowGrid(outer), block: BLOCK }, [
          arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.i64(outer), arg.i64(length), arg.bool(log),
        ]);
      } else {
        backend.launch(softmaxNormModule, `kv_softmax_columns_${input.dtype}`, { grid: gridFor(outer * inner, backend), block: BLOCK }, [
          arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.i64(outer), arg.i64(length), arg.i64(inner), arg.bool(log),
        ]);
      }
      return out;
    });
  });

  registerCudaKernel('rmsNorm', (backend, [input, weight], { eps }) => {
    const out = backend.empty(input.shape, input.dtype);
    const d = input.shape[input.rank - 1];
    const rows = d === 0 ? 0 : input.size / d;
    if (rows === 0) return out;
    return withRowMajor(backend, [input, weight], ([x, w]) => {
      const args = [arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.ptr(backend.address(w)), arg.i64(rows), arg.i64(d), arg.f32(eps)];
      const resident = rowResidentLaunch(input.dtype, d, rows, [backend.address(x), backend.address(out), backend.address(w)]);
      if (resident) {
        backend.launch(softmaxNormModule, `kv_rms_norm_resident_${input.dtype}_${weight.dtype}_${resident.variant}`, { grid: resident.grid, block: resident.block }, [...args, arg.i32(resident.lanes)]);
      } else {
        backend.launch(softmaxNormModule, `kv_rms_norm_${input.dtype}_${weight.dtype}`, { grid: rowGrid(rows), block: BLOCK }, args);
      }
      return out;
    });
  });

  registerCudaKernel('layerNorm', (backend, [input, weight, bias], { eps }) => {
    const out = backend.empty(input.shape, input.dtype);
    const d = input.shape[input.rank - 1];
    const rows = d === 0 ? 0 : input.size / d;
    if (rows === 0) return out;
    // The kernel reads bias in weight's dtype.
    const biasAsWeight = bias && bias.dtype !== weight.dtype ? runKernel('cast', [bias], { dtype: weight.dtype }) : bias;
    try {
      return withRowMajor(backend, [input, weight, biasAsWeight], ([x, w, b]) => {
        backend.launch(softmaxNormModule, `kv_layer_norm_${input.dtype}_${weight.dtype}`, { grid: rowGrid(rows), block: BLOCK }, [
          arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.ptr(backend.address(w)), arg.ptr(b ? backend.address(b) : 0),
          arg.i64(rows), arg.i64(d), arg.f32(eps),
        ]);
        return out;
      });
    } finally {
      if (biasAsWeight !== bias) biasAsWeight?.dispose();
    }
  });
}
