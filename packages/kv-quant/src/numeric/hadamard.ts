import { InvalidConfigError } from '@kvkit/tensor-core';

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** The largest power of two that divides n. */
export function largestPowerOfTwoDividing(n: number): number {
  return n & -n;
}

export function assertHadamardBlock(blockSize: number, length: number, where: string): void {
  if (!isPowerOfTwo(blockSize) || length % blockSize !== 0) {
    throw new InvalidConfigError(`${where}: the Hadamard block size must be a power of two dividing ${length}, got ${blockSize}`, {
      blockSize,
      length,
    });
  }
}

/**
 * In-place fast Walsh–Hadamard transform of `x[offset … offset + n)`, n a power of two, normalized
 * by 1/√n so that it is orthogonal and its own inverse (the Sylvester matrix H_n/√n is symmetric).
 * Butterflies in the natural (Sylvester) order: stage h pairs i with i + h.
 */
export function fwhtInPlace(x: { [i: number]: number }, offset: number, n: number): void {
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[offset + j];
        const b = x[offset + j + h];
        x[offset + j] = a + b;
        x[offset + j + h] = a - b;
      }
    }
  }
  const norm = 1 / Math.sqrt(n);
  for (let i = 0; i < n; i++) x[offset + i] *= norm;
}
