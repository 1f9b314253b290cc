// Random dense test matrices shared by the linear-algebra tests and bench: symmetric Gaussian ones
// and Gaussian-kernel Gram matrices (positive semi-definite, fast-decaying spectra like Nyström's K_CC).
import type { Matrix, Rng } from '../src/index.js';

/** A symmetric n × n matrix with standard normal entries on and above the diagonal. */
export function randomSymmetric(rng: Rng, n: number): Matrix {
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      const value = rng.normal();
      data[i * n + j] = value;
      data[j * n + i] = value;
    }
  return { rows: n, cols: n, data };
}

/** exp(−γ‖xᵢ − xⱼ‖²) of n standard normal points in `dims` dimensions. */
export function rbfGram(rng: Rng, n: number, { dims, gamma }: { dims: number; gamma: number }): Matrix {
  const x = Float64Array.from({ length: dims * n }, () => rng.normal());
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let squared = 0;
      for (let k = 0; k < dims; k++) squared += (x[dims * i + k] - x[dims * j + k]) ** 2;
      const value = Math.exp(-gamma * squared);
      data[i * n + j] = value;
      data[j * n + i] = value;
    }
  return { rows: n, cols: n, data };
}
