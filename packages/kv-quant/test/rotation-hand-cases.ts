/**
 * Small cases of the rotation and vector-quantization kernels checked on any backend against
 * values computed by hand (independent of the CPU kernels): the Sylvester matrix applied to a
 * block, and codes of points whose nearest centroid is obvious, ties going to the lower index.
 */
import { type Backend, tensor, toBackend } from '@kvkit/tensor-core';
import { expect } from 'vitest';
import { dequantizeVector, hadamard, quantizeVector } from '../src/index.js';

export interface HandCase {
  name: string;
  run(backend: Backend): Promise<void>;
}

export function handCheckedRotationCases(): HandCase[] {
  return [
    {
      name: 'H₄/2 · [1, 1, 1, 1] = [2, 0, 0, 0]; H₂/√2 · [1, 2] = [3, −1]/√2 per block, rounded once to f32',
      async run(backend) {
        const a = await hadamard(await toBackend(tensor([1, 1, 1, 1], [1, 4]), backend), 4).read();
        expect(Array.from(a)).toEqual([2, 0, 0, 0]);
        const b = await hadamard(await toBackend(tensor([1, 2, 3, 5], [1, 4]), backend), 2).read();
        expect(Array.from(b)).toEqual([3, -1, 8, -2].map((v) => Math.fround(v / Math.SQRT2)));
      },
    },
    {
      name: 'vector codes: the nearest of 4 centroids per group, ties to the lower index; dequantized = the centroids',
      async run(backend) {
        // One head, two groups of 2 channels, 2-bit codebooks.
        const books = [
          [0, 0], [1, 0], [0, 1], [1, 1], // group 0
          [5, 5], [-5, 5], [5, 5], [0, -5], // group 1: centroids 0 and 2 are equal
        ].flat();
        const x = [0.9, 0.2, 4, 4, 0.5, 0.5, 0, -4]; // token 0: codes 1, 0 (tie 0/2); token 1: 0 (4-way tie), 3
        const cb = await toBackend(tensor(books, [1, 2, 4, 2]), backend);
        const codes = quantizeVector(await toBackend(tensor(x, [1, 2, 4]), backend), cb, { channels: 2, bits: 2 });
        // 16 codes per word, the first group in the lowest bits.
        expect(Array.from(await codes.read())).toEqual([1 | (0 << 2), 0 | (3 << 2)]);
        expect(Array.from(await dequantizeVector(codes, cb, { channels: 2, bits: 2 }).read())).toEqual([1, 0, 5, 5, 0, 0, 0, -5]);
      },
    },
  ];
}
