import { wordsPerRow } from '../../packing.js';
import { arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from '../kernel-api.js';
import { rowMajor } from './layout.js';
import source from './packing.cu';

export const packingModule = defineCudaModule({ name: 'kvkit-packing', source });

export function registerCudaPackingKernels(): void {
  registerCudaKernel('packBits', (backend, [input], { bits, groupSize }) => {
    const n = input.shape[input.rank - 1];
    const perRow = wordsPerRow(n, bits, groupSize);
    const out = backend.empty([...input.shape.slice(0, -1), perRow], 'u32');
    const rows = n === 0 ? 0 : input.size / n;
    if (out.size === 0) return out;
    const codes = rowMajor(backend, input);
    try {
      backend.launch(packingModule, `kv_pack_bits_${input.dtype}`, { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(codes)), arg.i64(rows), arg.i64(n), arg.i64(perRow), arg.i32(bits), arg.i64(groupSize),
        arg.ptr(backend.deviceCheckFlag('packBits')),
      ]);
    } finally {
      codes.dispose();
    }
    return out;
  });

  registerCudaKernel('unpackBits', (backend, [input], { bits, groupSize, length }) => {
    const perRow = input.shape[input.rank - 1];
    const out = backend.empty([...input.shape.slice(0, -1), length], 'u8');
    if (out.size === 0) return out;
    const rows = out.size / length;
    const words = rowMajor(backend, input);
    try {
      backend.launch(packingModule, 'kv_unpack_bits', { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(words)), arg.i64(rows), arg.i64(length), arg.i64(perRow), arg.i32(bits), arg.i64(groupSize),
      ]);
    } finally {
      words.dispose();
    }
    return out;
  });
}
