import type { BinaryOp, UnaryOp } from '../../ops/elementwise.js';
import { broadcastStrides, sizeOf } from '../../shape.js';
import { arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from '../kernel-api.js';
import { collapseViews, contiguousView, layoutArg } from '../layout-arg.js';
import source from './elementwise.cu';
import { viewOf } from './layout.js';

export const elementwiseModule = defineCudaModule({ name: 'kvkit-elementwise', source });

// The op codes of elementwise.cu, in its enum order.
const UNARY_CODES: Record<UnaryOp, number> = {
  neg: 0, abs: 1, exp: 2, log: 3, sqrt: 4, rsqrt: 5, square: 6, reciprocal: 7, tanh: 8, sigmoid: 9, silu: 10, gelu: 11, geluTanh: 12, relu: 13, affine: 14,
};
const BINARY_CODES: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5, pow: 6 };

const aligned16 = (address: number): boolean => address % 16 === 0;

export function registerCudaElementwiseKernels(): void {
  registerCudaKernel('unary', (backend, [x], { op, alpha = 1, beta = 0 }) => {
    const out = backend.empty(x.shape, x.dtype);
    const n = x.size;
    if (n === 0) return out;
    const code = UNARY_CODES[op];
    const [xv] = collapseViews(x.shape, [viewOf(x)]).views;
    const dense = xv.shape.length <= 1 && (xv.shape.length === 0 || xv.strides[0] === 1);
    if (dense && aligned16(backend.address(x))) {
      backend.launch(elementwiseModule, `kv_unary_contig_${x.dtype}`, { grid: gridFor(n, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.i64(n), arg.i32(code), arg.f32(alpha), arg.f32(beta),
      ]);
    } else {
      backend.launch(elementwiseModule, `kv_unary_${x.dtype}`, { grid: gridFor(n, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.baseAddress(x)), layoutArg(xv), arg.i64(n), arg.i32(code), arg.f32(alpha), arg.f32(beta),
      ]);
    }
    return out;
  });

  registerCudaKernel('binary', (backend, [a, b], { op, shape }) => {
    const out = backend.empty(shape, a.dtype);
    const n = sizeOf(shape);
    if (n === 0) return out;
    const code = BINARY_CODES[op];
    const collapsed = collapseViews(shape, [
      contiguousView(shape),
      { strides: broadcastStrides(a.shape, a.strides, shape), offset: a.offset },
      { strides: broadcastStrides(b.shape, b.strides, shape), offset: b.offset },
    ]);
    const [, av, bv] = collapsed.views;
    const dense = (v: typeof av): boolean => v.shape.length <= 1 && (v.shape.length === 0 || v.strides[0] === 1);
    if (dense(av) && dense(bv) && aligned16(backend.address(a)) && aligned16(backend.address(b))) {
      backend.launch(elementwiseModule, `kv_binary_contig_${a.dtype}`, { grid: gridFor(n, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(a)), arg.ptr(backend.address(b)), arg.i64(n), arg.i32(code),
      ]);
    } else {
      backend.launch(elementwiseModule, `kv_binary_${a.dtype}`, { grid: gridFor(n, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.baseAddress(a)), arg.ptr(backend.baseAddress(b)), layoutArg(av), layoutArg(bv), arg.i64(n), arg.i32(code),
      ]);
    }
    return out;
  });
}
