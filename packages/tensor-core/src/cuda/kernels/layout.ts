import { bytesPerElement, type DType } from '../../dtype.js';
import { numberToBf16Bits, numberToF16Bits } from '../../float16.js';
import { contiguousStrides, sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import type { CudaBackend } from '../cuda-backend.js';
import { arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from '../kernel-api.js';
import { collapseViews, layoutArg, type StridedView } from '../layout-arg.js';
import source from './layout.cu';

export const layoutModule = defineCudaModule({ name: 'kvkit-layout', source });

/**
 * Copies the elements of view `src` (base `srcBase`) into view `dst` (base `dstBase`), both of
 * `shape`, element by element in row-major order. Contiguous-to-contiguous copies go to the copy
 * engine, transposing ones (tileTranspose) to the tiled kernel, everything else to the strided copy
 * kernel of the element's width.
 */
export function stridedCopy(backend: CudaBackend, dtype: DType, shape: readonly number[], dstBase: number, dst: StridedView, srcBase: number, src: StridedView): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const width = bytesPerElement(dtype);
  const collapsed = collapseViews(shape, [dst, src]);
  const [d, s] = collapsed.views;
  const dense = (v: StridedView): boolean => v.shape.length <= 1 && (v.shape.length === 0 || v.strides[0] === 1);
  if (dense(d) && dense(s)) {
    backend.runtime.copy(dstBase + d.offset * width, srcBase + s.offset * width, n * width);
    return;
  }
  const transposing = tileTranspose(collapsed.shape, d, s);
  if (transposing) {
    const { a, b, dstBatch, srcBatch, batches } = transposing;
    const tiles = batches * Math.ceil(collapsed.shape[a] / TILE) * Math.ceil(collapsed.shape[b] / TILE);
    backend.launch(layoutModule, `kv_transpose_copy_b${width}`, { grid: gridFor(tiles * TILE_THREADS, backend, TILE_THREADS), block: TILE_THREADS }, [
      arg.ptr(dstBase),
      arg.ptr(srcBase),
      layoutArg(dstBatch),
      layoutArg(srcBatch),
      arg.i64(collapsed.shape[a]),
      arg.i64(collapsed.shape[b]),
      arg.i64(d.strides[a]),
      arg.i64(s.strides[b]),
      arg.i64(batches),
    ]);
    return;
  }
  backend.launch(layoutModule, `kv_strided_copy_b${width}`, { grid: gridFor(n, backend), block: BLOCK }, [
    arg.ptr(dstBase),
    arg.ptr(srcBase),
    layoutArg(d),
    layoutArg(s),
    arg.i64(n),
  ]);
}

/** KV_TILE and KV_TILE_THREADS in layout.cu: the transposing copy moves tiles of TILE × TILE elements with blocks of TILE_THREADS. */
const TILE = 64;
const TILE_THREADS = 256;
/** Axes narrower than this leave most of each tile empty: the strided kernel does better. */
const TILE_MIN = 32;

/**
 * How the tiled transposing copy (kv_transpose_copy_b*) serves a copy of collapsed views `dst` and
 * `src` (shape `shape`): an axis `a` along which only the source is contiguous and an axis `b`
 * along which only the destination is, both at least TILE_MIN wide, and the remaining axes as batches (views of those axes
 * that carry the offsets). Undefined when the copy is not such a transpose.
 */
function tileTranspose(
  shape: readonly number[],
  dst: StridedView,
  src: StridedView,
): { a: number; b: number; dstBatch: StridedView; srcBatch: StridedView; batches: number } | undefined {
  const a = src.strides.findIndex((stride, i) => stride === 1 && dst.strides[i] !== 1);
  const b = dst.strides.findIndex((stride, i) => stride === 1 && src.strides[i] !== 1);
  if (a < 0 || b < 0 || shape[a] < TILE_MIN || shape[b] < TILE_MIN) return undefined;
  const rest = [...shape.keys()].filter((i) => i !== a && i !== b);
  const batchOf = (v: StridedView): StridedView => ({ shape: rest.map((i) => shape[i]), strides: rest.map((i) => v.strides[i]), offset: v.offset });
  return { a, b, dstBatch: batchOf(dst), srcBatch: batchOf(src), batches: rest.reduce((p, i) => p * shape[i], 1) };
}

/** The view of a tensor as (shape, strides, offset). */
export function viewOf(t: Tensor): StridedView {
  return { shape: t.shape, strides: t.strides, offset: t.offset };
}

/** A row-major copy of `t` on its backend. */
export function materialize(backend: CudaBackend, t: Tensor): Tensor {
  const out = backend.empty(t.shape, t.dtype);
  stridedCopy(backend, t.dtype, t.shape, backend.baseAddress(out), viewOf(out), backend.baseAddress(t), viewOf(t));
  return out;
}

/** `t` itself (another reference) when row-major, else a row-major copy; dispose the result after use. */
export function rowMajor(backend: CudaBackend, t: Tensor): Tensor {
  return t.isContiguous() ? t.view(t.shape, contiguousStrides(t.shape), t.offset) : materialize(backend, t);
}

/** Runs `body` with row-major versions of `tensors` (absent ones stay absent), disposing them afterwards. */
export function withRowMajor<T, const A extends readonly (Tensor | undefined)[]>(backend: CudaBackend, tensors: A, body: (staged: { [K in keyof A]: A[K] }) => T): T {
  const staged = tensors.map((t) => (t ? rowMajor(backend, t) : undefined)) as { [K in keyof A]: A[K] };
  try {
    return body(staged);
  } finally {
    for (const t of staged as readonly (Tensor | undefined)[]) t?.dispose();
  }
}

/** The raw bit pattern `value` has as one element of `dtype` (what memset writes). */
export function fillBits(dtype: DType, value: number): number {
  switch (dtype) {
    case 'f32':
      return new Uint32Array(Float32Array.of(value).buffer)[0];
    case 'f16':
      return numberToF16Bits(value);
    case 'bf16':
      return numberToBf16Bits(value);
    case 'i8':
    case 'u8':
      return value & 0xff;
    default:
      return value >>> 0;
  }
}

export function registerCudaLayoutKernels(): void {
  registerCudaKernel('contiguous', (backend, [x]) => materialize(backend, x));

  registerCudaKernel('cast', (backend, [x], { dtype }) => {
    if (dtype === x.dtype) return materialize(backend, x);
    const out = backend.empty(x.shape, dtype);
    const n = x.size;
    if (n > 0) {
      const [src] = collapseViews(x.shape, [viewOf(x)]).views;
      backend.launch(layoutModule, `kv_cast_${x.dtype}_to_${dtype}`, { grid: gridFor(n, backend), block: BLOCK }, [
        arg.ptr(backend.baseAddress(out)),
        arg.ptr(backend.baseAddress(x)),
        layoutArg(src),
        arg.i64(n),
      ]);
    }
    return out;
  });

  registerCudaKernel('concat', (backend, inputs, { axis }) => {
    const first = inputs[0];
    const shape = [...first.shape];
    shape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
    const out = backend.empty(shape, first.dtype);
    const strides = contiguousStrides(shape);
    let start = 0;
    for (const t of inputs) {
      stridedCopy(backend, t.dtype, t.shape, backend.baseAddress(out), { shape: t.shape, strides, offset: start * strides[axis] }, backend.baseAddress(t), viewOf(t));
      start += t.shape[axis];
    }
    return out;
  });

  registerCudaKernel('assign', (backend, [target, source]) => {
    // A source sharing the target's storage may overlap it: copy it out first.
    const staged = source.shared === target.shared ? materialize(backend, source) : source;
    try {
      stridedCopy(backend, target.dtype, target.shape, backend.baseAddress(target), viewOf(target), backend.baseAddress(staged), viewOf(staged));
    } finally {
      if (staged !== source) staged.dispose();
    }
  });

  registerCudaKernel('fill', (backend, _inputs, { shape, dtype, value }) => {
    const out = backend.empty(shape, dtype);
    const n = sizeOf(shape);
    const width = bytesPerElement(dtype) as 1 | 2 | 4;
    if (n > 0) backend.runtime.memset(backend.baseAddress(out), fillBits(dtype, value), n, width);
    return out;
  });
}
