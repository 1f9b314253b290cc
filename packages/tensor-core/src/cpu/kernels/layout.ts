import { allocateHostArray, type DType, integerRange, isFloatDType } from '../../dtype.js';
import { registerKernel } from '../../kernel-registry.js';
import { sizeOf } from '../../shape.js';
import type { CpuBackend } from '../cpu-backend.js';
import { outputBuffer, readNumbers, readRaw, wrapOutput, wrapRaw, writableData } from '../host-data.js';
import { copyStrided } from '../strided-runs.js';

/** Float → integer casts truncate toward zero and saturate to the target range; NaN becomes 0. */
function castValues(values: ArrayLike<number>, from: DType, to: DType): ReturnType<typeof outputBuffer> {
  const out = outputBuffer(to, values.length);
  const range = integerRange(to);
  if (range && isFloatDType(from)) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      out[i] = v !== v ? 0 : Math.min(range.max, Math.max(range.min, Math.trunc(v)));
    }
  } else if (range) {
    for (let i = 0; i < values.length; i++) out[i] = Math.min(range.max, Math.max(range.min, values[i]));
  } else {
    for (let i = 0; i < values.length; i++) out[i] = values[i];
  }
  return out;
}

export function registerLayoutKernels(): void {
  registerKernel<'contiguous', CpuBackend>('contiguous', 'cpu', (backend, [x]) => {
    // readRaw shares memory with x when x is contiguous, and is a fresh copy otherwise.
    const raw = readRaw(x);
    return wrapRaw(backend, x.shape, x.dtype, x.isContiguous() ? raw.slice() : raw);
  });

  registerKernel<'cast', CpuBackend>('cast', 'cpu', (backend, [x], { dtype }) => {
    if (dtype === x.dtype) return wrapRaw(backend, x.shape, dtype, readRaw(x).slice());
    return wrapOutput(backend, x.shape, dtype, castValues(readNumbers(x), x.dtype, dtype));
  });

  registerKernel<'concat', CpuBackend>('concat', 'cpu', (backend, inputs, { axis }) => {
    const first = inputs[0];
    const shape = [...first.shape];
    shape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
    const outer = sizeOf(shape.slice(0, axis));
    const rowOut = sizeOf(shape.slice(axis));
    const out = allocateHostArray(first.dtype, sizeOf(shape));
    let col = 0;
    for (const t of inputs) {
      const src = readRaw(t);
      const row = sizeOf(t.shape.slice(axis));
      for (let o = 0; o < outer; o++) out.set(src.subarray(o * row, (o + 1) * row), o * rowOut + col);
      col += row;
    }
    return wrapRaw(backend, shape, first.dtype, out);
  });

  registerKernel<'assign', CpuBackend>('assign', 'cpu', (_backend, [target, source]) => {
    // Read the source fully first: it may overlap the target.
    const src = readRaw(source).slice();
    const dst = writableData(target);
    if (target.isContiguous()) dst.set(src, target.offset);
    else copyStrided(dst, src, target.shape, target.strides, target.offset, false); // the inverse of gatherStrided
  });

  registerKernel<'fill', CpuBackend>('fill', 'cpu', (backend, _inputs, { shape, dtype, value }) => {
    const out = outputBuffer(dtype, sizeOf(shape));
    out.fill(value);
    return wrapOutput(backend, shape, dtype, out);
  });
}
