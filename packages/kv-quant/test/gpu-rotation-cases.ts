/**
 * Parity cases of the rotation and vector-quantization GPU kernels (kvHadamard, kvQuantizeVector,
 * kvDequantizeVector) against their CPU kernels, bit for bit: rotated values as f32 bits (a NaN
 * matching any NaN: the CPU's are the host's), codes word for word, dequantized values as f32 bits.
 * Fresh random inputs plus the edge cases: exponent spreads that make the float64 butterflies
 * round, ±0, NaN, ±∞, f32 and f16 subnormals, f32 overflow after the rotation, exact distance ties
 * between centroids (lowest index wins), near-ties that f32 cannot order (the exact fallback),
 * duplicate centroids, infinite/NaN/subnormal/huge centroids. Used by the WebGPU and CUDA-emulator
 * suites and by tooling/gpu/kv-quant-check.ts.
 */
import { type Backend, cpuBackend, type DType, type Rng, type Tensor, tensor, transpose } from '@kvkit/tensor-core';
import { dequantizeVector, hadamard, quantizeVector } from '../src/index.js';
import { compare, type GpuParityCase } from './gpu-parity-cases.js';

const cpu = cpuBackend();
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng.uniform() * items.length)];
}

/** Signed values over 2^−e … 2^e: blocks mixing such magnitudes make the float64 sums round. */
function spread(rng: Rng, n: number, e: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.uniform() < 0.5 ? -1 : 1) * (1 + rng.uniform()) * 2 ** Math.floor((rng.uniform() * 2 - 1) * e));
}

async function runHadamard(gpu: Backend, data: Float32Array, shape: number[], dtype: DType, blockSize: number, view: (t: Tensor) => Tensor = (t) => t) {
  const on = (backend: Backend) => view(tensor(data, shape, { dtype, backend }));
  return compare('rotated', hadamard(on(gpu), blockSize), hadamard(on(cpu), blockSize), true);
}

function hadamardCases(): GpuParityCase[] {
  const shapes: { shape: number[]; dtype: DType; blockSize: number; e: number; view?: (t: Tensor) => Tensor; note?: string }[] = [
    { shape: [3, 64], dtype: 'f32', blockSize: 64, e: 3 },
    { shape: [2, 5, 48], dtype: 'f16', blockSize: 16, e: 6 },
    { shape: [4, 32], dtype: 'bf16', blockSize: 32, e: 40 },
    { shape: [2, 256], dtype: 'f32', blockSize: 128, e: 40 },
    { shape: [5, 8], dtype: 'f32', blockSize: 1, e: 10 },
    { shape: [2, 16, 6], dtype: 'f32', blockSize: 8, e: 30, view: (t) => transpose(t, [0, 2, 1]), note: 'transposed view' },
    { shape: [2, 3, 4, 8], dtype: 'f32', blockSize: 4, e: 30, view: (t) => transpose(t, [1, 0, 2, 3]), note: 'rank-4 view, leading axes do not merge' },
    { shape: [65, 4], dtype: 'f32', blockSize: 2, e: 20, note: 'partial workgroup' },
    { shape: [1, 1], dtype: 'f32', blockSize: 1, e: 1 },
    { shape: [2, 2048], dtype: 'f32', blockSize: 2048, e: 20, note: 'a full workgroup block' },
    { shape: [2, 4096], dtype: 'f16', blockSize: 4096, e: 8, note: 'WebGPU: beyond workgroup memory, in a scratch buffer' },
  ];
  const cases: GpuParityCase[] = shapes.map((c) => ({
    name: `hadamard ${c.dtype} [${c.shape}] B=${c.blockSize}, magnitudes 2^±${c.e}${c.note ? ` (${c.note})` : ''}`,
    run: (gpu, rng) => runHadamard(gpu, spread(rng, size(c.shape), c.e), c.shape, c.dtype, c.blockSize, c.view),
  }));
  // One block of 8 per scenario, filled around random values (a non-power-of-four B: 1/√8 is inexact).
  const fill = (rng: Rng, fixed: number[], more: () => number) => [...fixed, ...Array.from({ length: 8 - fixed.length }, more)];
  cases.push({
    name: 'hadamard edges f32 B=8: NaN, ±∞, ∞ − ∞, ±0, subnormal inputs and results, f32 overflow, 2^±60 spread',
    async run(gpu, rng) {
      const normal = () => rng.normal();
      const rows = [
        fill(rng, [NaN], normal),
        fill(rng, [Infinity], normal),
        fill(rng, [Infinity, -Infinity], normal),
        fill(rng, [], () => -0),
        fill(rng, [], () => pick(rng, [0, -0])),
        fill(rng, [1e-45, -1e-40, 3e-39], () => pick(rng, [1, -1]) * rng.uniform() * 1e-38),
        fill(rng, [], () => pick(rng, [1, -1]) * 2 ** -140),
        fill(rng, [3e38, 3.4e38, 2e38], () => rng.uniform() * 3e38),
        fill(rng, [2 ** 60, -(2 ** -60), 1], () => pick(rng, [1, -1]) * 2 ** Math.floor(rng.uniform() * 120 - 60)),
        fill(rng, [], normal),
      ];
      return runHadamard(gpu, Float32Array.from(rows.flat()), [rows.length, 8], 'f32', 8);
    },
  });
  cases.push({
    name: 'hadamard edges f16 B=4: f16 subnormals, 65504, ±∞, NaN',
    async run(gpu, rng) {
      const rows = [
        [2 ** -24, -(2 ** -20), 2 ** -15, rng.uniform() * 2 ** -14],
        [65504, 65504, -65504, 1],
        [Infinity, rng.normal(), NaN, -Infinity],
        [rng.normal(), rng.normal(), rng.normal(), rng.normal()],
      ];
      return runHadamard(gpu, Float32Array.from(rows.flat()), [rows.length, 4], 'f16', 4);
    },
  });
  return cases;
}

interface VectorCase {
  heads: number;
  n: number;
  groups: number;
  channels: number;
  bits: number;
  dtype: DType;
  /** Tokens read through a view: the data laid out [n, heads, d], transposed to [heads, n, d]. */
  transposed?: boolean;
}

/**
 * Codebooks [heads, groups, 2^bits, c] and tokens [heads, n, groups · c] lying near centroids, on
 * centroids, between two; head 0 / group 0 also holds an exact distance tie and a near-tie (see
 * `tiePair`), and each codebook repeats one centroid (equal distances: the lower index wins).
 */
function vectorData(rng: Rng, c: VectorCase): { x: Float32Array; books: Float32Array } {
  const k = 2 ** c.bits;
  const d = c.groups * c.channels;
  const books = Float32Array.from({ length: c.heads * c.groups * k * c.channels }, () => rng.normal() * 2);
  for (let hg = 0; hg < c.heads * c.groups; hg++) {
    if (k > 2) books.copyWithin((hg * k + 1) * c.channels, hg * k * c.channels, (hg * k + 1) * c.channels); // centroid 1 = centroid 0
  }
  const x = new Float32Array(c.heads * c.n * d);
  for (let h = 0; h < c.heads; h++) {
    for (let t = 0; t < c.n; t++) {
      for (let g = 0; g < c.groups; g++) {
        const book = (h * c.groups + g) * k;
        const a = (book + Math.floor(rng.uniform() * k)) * c.channels;
        const b = (book + Math.floor(rng.uniform() * k)) * c.channels;
        const u = rng.uniform();
        for (let j = 0; j < c.channels; j++) {
          const at = (h * c.n + t) * d + g * c.channels + j;
          x[at] = u < 0.15 ? books[a + j] : u < 0.3 ? (books[a + j] + books[b + j]) / 2 : books[a + j] + 0.3 * rng.normal();
        }
      }
    }
  }
  if (c.n >= 2) tiePair(books, x, c, k);
  return { x, books };
}

/**
 * In head 0, group 0: centroids k−2 and k−1 around base point 1. Token 0 sits at exactly equal
 * float64 distances from both (k−2 must win); token 1 is one f32 step off, so the two distances
 * differ by less than the f32 margin (the decision falls to the exact float64 path); with k ≥ 4
 * and c ≥ 2, centroid k−3 is farther from token 0 than the tie by less than an f32 step. With one
 * channel the pair is 1 ± 1/2; with more, the pair is offset (3/8, 4/8) and (5/8, 0) (3² + 4² = 5²).
 * The other centroids move 10 away so that the pair is nearest.
 */
function tiePair(books: Float32Array, x: Float32Array, c: VectorCase, k: number): void {
  const cc = c.channels;
  for (let i = 0; i < (k - 2) * cc; i++) books[i] += 10;
  const a = new Float32Array(cc).fill(1);
  const b = new Float32Array(cc).fill(1);
  if (cc === 1) {
    a[0] = 0.5;
    b[0] = 1.5;
  } else {
    a[0] += 3 / 8;
    a[1] += 4 / 8;
    b[0] += 5 / 8;
  }
  books.set(a, (k - 2) * cc);
  books.set(b, (k - 1) * cc);
  if (k >= 4 && cc >= 2) {
    // Centroid k−3: centroid k−2 moved 2^−23·(4, −3), perpendicular to its offset from token 0, so
    // token 0's distance to it exceeds the tie by 25·2^−46 — below an f32 step, which would tie it.
    books[(k - 3) * cc] = a[0] + 4 * 2 ** -23;
    books[(k - 3) * cc + 1] = a[1] - 3 * 2 ** -23;
    books.fill(1, (k - 3) * cc + 2, (k - 2) * cc);
  }
  const d = c.groups * cc;
  for (let j = 0; j < cc; j++) {
    x[j] = 1;
    x[d + j] = 1;
  }
  x[d + (cc === 1 ? 0 : 1)] = 1 + 2 ** -23;
}

async function runVector(gpu: Backend, x: Float32Array, books: Float32Array, c: VectorCase): Promise<string | undefined> {
  const attrs = { channels: c.channels, bits: c.bits };
  const on = (backend: Backend) =>
    [
      c.transposed
        ? transpose(tensor(x, [c.n, c.heads, c.groups * c.channels], { dtype: c.dtype, backend }), [1, 0, 2])
        : tensor(x, [c.heads, c.n, c.groups * c.channels], { dtype: c.dtype, backend }),
      tensor(books, [c.heads, c.groups, 2 ** c.bits, c.channels], { backend }),
    ] as const;
  const [xc, bc] = on(cpu);
  const [xg, bg] = on(gpu);
  const ref = quantizeVector(xc, bc, attrs);
  const got = quantizeVector(xg, bg, attrs);
  return (await compare('codes', got, ref)) ?? compare('dequantized', dequantizeVector(got, bg, attrs), dequantizeVector(ref, bc, attrs));
}

function vectorCases(): GpuParityCase[] {
  const shapes: VectorCase[] = [
    { heads: 2, n: 9, groups: 5, channels: 1, bits: 1, dtype: 'f32' },
    { heads: 2, n: 7, groups: 3, channels: 4, bits: 2, dtype: 'f16' },
    { heads: 1, n: 6, groups: 12, channels: 2, bits: 3, dtype: 'f32' },
    { heads: 3, n: 5, groups: 4, channels: 3, bits: 4, dtype: 'bf16' },
    { heads: 2, n: 4, groups: 2, channels: 8, bits: 4, dtype: 'f32' },
    { heads: 1, n: 3, groups: 5, channels: 2, bits: 8, dtype: 'f32' },
    { heads: 1, n: 65, groups: 1, channels: 2, bits: 2, dtype: 'f32' },
    { heads: 2, n: 6, groups: 4, channels: 2, bits: 3, dtype: 'f32', transposed: true },
  ];
  const cases: GpuParityCase[] = shapes.map((c) => ({
    name: `vector ${c.bits}-bit c=${c.channels} ${c.dtype} [${c.heads}, ${c.n}, ${c.groups}·${c.channels}]${c.transposed ? ' (transposed view)' : ''}: near/on/between centroids, exact tie, near-tie, duplicate centroid`,
    run(gpu, rng) {
      const { x, books } = vectorData(rng, c);
      return runVector(gpu, x, books, c);
    },
  }));
  const edge: VectorCase = { heads: 1, n: 24, groups: 4, channels: 2, bits: 2, dtype: 'f32' };
  cases.push({
    name: 'vector edges 2-bit c=2: NaN, ±∞, ±0, subnormal and huge tokens; ∞, NaN, subnormal, huge and duplicate centroids',
    run(gpu, rng) {
      // Group 0 random; group 1 with ∞ / NaN / subnormal centroids; group 2 huge; group 3 duplicates.
      const books = Float32Array.from([
        ...Array.from({ length: 8 }, () => rng.normal()),
        ...[Infinity, 0, NaN, 1, 1e-40, -1e-41, -1e-39, 1e-45],
        ...[1e30, -1e30, 2e30, 0, -1e38, 3e38, 0, 0],
        ...[0.5, 0.5, 0.5, 0.5, -0.5, 0.5, -0.5, 0.5],
      ]);
      const pool = [NaN, Infinity, -Infinity, 0, -0, 1e-45, -2e-40, 1e-39, 1e30, -3e38, 3.4e38, 0.5, -0.5];
      const x = Float32Array.from({ length: edge.n * 8 }, () => (rng.uniform() < 0.5 ? pick(rng, pool) : rng.normal()));
      return runVector(gpu, x, books, edge);
    },
  });
  const half: VectorCase = { heads: 1, n: 12, groups: 2, channels: 2, bits: 2, dtype: 'f16' };
  cases.push({
    name: 'vector edges f16 tokens: f16 subnormals, 65504, ±∞, NaN',
    run(gpu, rng) {
      const books = Float32Array.from([2 ** -24, 0, -(2 ** -20), 2 ** -14, 65504, 65504, 0, 0, ...Array.from({ length: 8 }, () => rng.normal())]);
      const pool = [2 ** -24, -(2 ** -24), 2 ** -20, 65504, -65504, Infinity, NaN, 0];
      const x = Float32Array.from({ length: half.n * 4 }, () => (rng.uniform() < 0.6 ? pick(rng, pool) : rng.normal()));
      return runVector(gpu, x, books, half);
    },
  });
  return cases;
}

export function gpuRotationCases(): GpuParityCase[] {
  return [...hadamardCases(), ...vectorCases()];
}
