/**
 * Independent float64 references for the op tests: the most direct loops of each definition,
 * written without any code of the package under test.
 */
import type { Rng } from '../src/rng.js';

export function randomArray(rng: Rng, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * rng.normal();
  return out;
}

/** Values exactly representable in f32 (so the f32 tensor holds the reference's inputs exactly). */
export function f32Values(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values as ArrayLike<number>));
}

export function naiveMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number, ta = false, tb = false): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  return c;
}

/**
 * Attention by the textbook formula with K/V explicitly repeated per query head (the thing the
 * kernel must never do), masks from positions.
 */
export function naiveAttention(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: { qHeads: number; kvHeads: number; m: number; n: number; d: number; dv: number },
  opts: { scale: number; qPos: ArrayLike<number>; kPos: ArrayLike<number>; causal: boolean; window: number; softcap: number },
): { out: Float64Array; keySum: Float64Array; keyMax: Float64Array } {
  const { qHeads, kvHeads, m, n, d, dv } = dims;
  const out = new Float64Array(qHeads * m * dv);
  const keySum = new Float64Array(qHeads * n);
  const keyMax = new Float64Array(qHeads * n);
  const rep = qHeads / kvHeads;
  for (let h = 0; h < qHeads; h++) {
    const kh = Math.floor(h / rep);
    for (let i = 0; i < m; i++) {
      const logits: number[] = [];
      for (let j = 0; j < n; j++) {
        const visible = (!opts.causal || opts.kPos[j] <= opts.qPos[i]) && (opts.window === 0 || opts.qPos[i] - opts.kPos[j] < opts.window);
        if (!visible) {
          logits.push(-Infinity);
          continue;
        }
        let s = 0;
        for (let c = 0; c < d; c++) s += q[(h * m + i) * d + c] * k[(kh * n + j) * d + c];
        s *= opts.scale;
        if (opts.softcap > 0) s = opts.softcap * Math.tanh(s / opts.softcap);
        logits.push(s);
      }
      const mx = Math.max(...logits);
      if (mx === -Infinity) continue;
      const e = logits.map((s) => Math.exp(s - mx));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < n; j++) {
        const p = e[j] / z;
        keySum[h * n + j] += p;
        keyMax[h * n + j] = Math.max(keyMax[h * n + j], p);
        for (let c = 0; c < dv; c++) out[(h * m + i) * dv + c] += p * v[(kh * n + j) * dv + c];
      }
    }
  }
  return { out, keySum, keyMax };
}

/**
 * Asserts two arrays hold the same float64 values, bit for bit (Object.is: −0 ≠ +0, NaN = NaN),
 * naming the first difference. A loop, not toEqual: deep equality over 10⁵ entries takes seconds.
 */
export function expectIdentical(actual: ArrayLike<number>, expected: ArrayLike<number>, label = 'values'): void {
  if (actual.length !== expected.length) throw new Error(`${label}: lengths ${actual.length} and ${expected.length} differ`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`${label}: entry ${i} is ${actual[i]}, expected ${expected[i]} (bit for bit)`);
  }
}

/**
 * Eigenvalues (descending) of the symmetric tridiagonal matrix (diagonal, off) by bisection on the
 * Sturm count: the number of negative pivots of T − xI is the number of eigenvalues below x.
 */
export function bisectionEigenvalues(diagonal: readonly number[], off: readonly number[]): number[] {
  const n = diagonal.length;
  const below = (x: number): number => {
    let count = 0;
    let pivot = 1;
    for (let i = 0; i < n; i++) {
      pivot = diagonal[i] - x - (i > 0 ? off[i - 1] ** 2 / pivot : 0);
      if (pivot === 0) pivot = -1e-300;
      if (pivot < 0) count++;
    }
    return count;
  };
  let bound = 0;
  for (let i = 0; i < n; i++) bound = Math.max(bound, Math.abs(diagonal[i]) + Math.abs(off[i - 1] ?? 0) + Math.abs(off[i] ?? 0));
  const values: number[] = [];
  for (let k = n - 1; k >= 0; k--) {
    // The (k+1)-th smallest: the least x with more than k eigenvalues below it.
    let lo = -bound - 1;
    let hi = bound + 1;
    for (let iteration = 0; iteration < 200 && hi - lo > 0; iteration++) {
      const mid = 0.5 * (lo + hi);
      if (mid === lo || mid === hi) break;
      if (below(mid) > k) hi = mid;
      else lo = mid;
    }
    values.push(0.5 * (lo + hi));
  }
  return values;
}
