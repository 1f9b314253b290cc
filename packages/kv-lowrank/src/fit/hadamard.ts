import { InvalidConfigError, type Matrix, matmulMatrix, matrix } from '@kvkit/tensor-core';

/**
 * An orthonormal r × r Hadamard-type rotation: the block diagonal of normalized Sylvester Hadamard
 * matrices whose sizes are the powers of two in r's binary expansion (r = 48 → H₃₂ ⊕ H₁₆). It spreads
 * an outlier coordinate over its block, which is what makes per-token low-bit quantization of latents
 * accurate (Palu's low-rank-aware quantization).
 */
export function blockHadamard(r: number): Matrix {
  if (!Number.isInteger(r) || r < 1) throw new InvalidConfigError(`blockHadamard: size must be a positive integer, got ${r}`);
  const out = matrix(r, r);
  let start = 0;
  for (let size = 1 << Math.floor(Math.log2(r)); size >= 1; size >>= 1) {
    if ((r - start) < size) continue;
    const norm = 1 / Math.sqrt(size);
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) out.data[(start + i) * r + start + j] = popcount(i & j) % 2 === 0 ? norm : -norm;
    }
    start += size;
  }
  return out;
}

function popcount(x: number): number {
  let count = 0;
  for (let v = x; v; v &= v - 1) count++;
  return count;
}

/**
 * basis·H: the same subspace with the Hadamard rotation folded in, so latents come out rotated and
 * reconstruction/absorption (which use the same matrix) undo it for free.
 */
export function rotateBasis(basis: Matrix): Matrix {
  return matmulMatrix(basis, blockHadamard(basis.cols));
}
