import { registerKernel } from '../../kernel-registry.js';
import { packCodes, unpackCodes, wordsPerRow } from '../../packing.js';
import type { CpuBackend } from '../cpu-backend.js';
import { readRaw, wrapRaw } from '../host-data.js';

export function registerPackingKernels(): void {
  registerKernel<'packBits', CpuBackend>('packBits', 'cpu', (backend, [codes], { bits, groupSize }) => {
    const n = codes.shape[codes.rank - 1];
    const words = packCodes(readRaw(codes), n, bits, groupSize);
    return wrapRaw(backend, [...codes.shape.slice(0, -1), wordsPerRow(n, bits, groupSize)], 'u32', words);
  });

  registerKernel<'unpackBits', CpuBackend>('unpackBits', 'cpu', (backend, [words], { bits, groupSize, length }) => {
    const codes = unpackCodes(readRaw(words) as Uint32Array, length, bits, groupSize);
    return wrapRaw(backend, [...words.shape.slice(0, -1), length], 'u8', codes);
  });
}
