/**
 * Parity of every CUDA kernel of tensor-core with the CPU backend (the oracle), on fresh random
 * inputs: strided views, broadcasting, every dtype the op takes, NaN rules, the packed layout.
 * Relative error ‖cuda − cpu‖/‖cpu‖: f32 < 1e-5, f16/bf16 < 1e-2, integers exact; NaN never passes.
 */
import {
  argmax,
  argmin,
  assign,
  attention,
  type Backend,
  binary,
  type BinaryOp,
  cast,
  causalConv1d,
  concat,
  contiguous,
  type DType,
  full,
  gather,
  gatedDeltaRule,
  indexedMatmul,
  layerNorm,
  logSoftmax,
  matmul,
  packBits,
  randomInt,
  randomNormal,
  reduce,
  type ReduceOp,
  rmsNorm,
  rope,
  ropeInverseFrequencies,
  type Rng,
  scatter,
  selectiveScan,
  slice,
  softmax,
  squeeze,
  tensor,
  type Tensor,
  toBackend,
  topk,
  transpose,
  unary,
  type UnaryOp,
  unpackBits,
} from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';

export interface ParityCase {
  name: string;
  /** Allowed relative error; 0 for integer outputs. */
  tolerance: number;
  /** Inputs on the CPU backend. */
  inputs(rng: Rng): Tensor[];
  /** The op under test; runs on CPU inputs and on the same inputs moved to CUDA. */
  op(...inputs: Tensor[]): Tensor | Tensor[];
}

export interface ParityResult {
  name: string;
  error: number;
  tolerance: number;
  pass: boolean;
  detail?: string;
}

const FLOATS: DType[] = ['f32', 'f16', 'bf16'];
const tol = (dtype: DType): number => (dtype === 'f32' ? 1e-5 : dtype === 'f16' || dtype === 'bf16' ? 1e-2 : 0);
const normal = (rng: Rng, shape: number[], dtype: DType = 'f32', std = 1): Tensor => randomNormal(shape, rng, { dtype, std });

function ints(rng: Rng, shape: number[], low: number, high: number, dtype: DType): Tensor {
  return randomInt(shape, low, high, rng, { dtype });
}

/** Values with ties and a NaN, for the order-sensitive ops. */
function withTiesAndNaN(rng: Rng, shape: number[], dtype: DType): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, () => Math.round(rng.normal() * 4) / 2);
  values[Math.floor(rng.uniform() * n)] = Number.NaN;
  return tensor(values, shape, { dtype });
}

/** `result`, after disposing the views an op made on the way (each holds its storage until disposed). */
function released<T>(result: T, ...views: Tensor[]): T {
  for (const v of views) v.dispose();
  return result;
}

export function parityCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const add = (c: ParityCase): void => void cases.push(c);

  for (const dtype of ['f32', 'f16', 'bf16', 'i8', 'u8', 'i32', 'u32'] as DType[]) {
    const make = (rng: Rng, shape: number[]) => (tol(dtype) > 0 ? normal(rng, shape, dtype) : ints(rng, shape, 0, 100, dtype));
    add({ name: `contiguous(transpose) ${dtype}`, tolerance: tol(dtype), inputs: (r) => [make(r, [5, 7, 9])], op: (x) => contiguous(transpose(x, [2, 0, 1])) });
    add({ name: `full ${dtype}`, tolerance: 0, inputs: () => [], op: () => full([3, 33], dtype === 'f32' ? -1.25 : dtype === 'bf16' || dtype === 'f16' ? 3.140625 : 7, { dtype, backend: currentBackend }) });
    add({
      name: `concat axis 1 (with a strided view) ${dtype}`,
      tolerance: tol(dtype),
      inputs: (r) => [make(r, [4, 3, 5]), make(r, [4, 2, 5]), make(r, [5, 6, 4])],
      op: (a, b, c) => concat([a, b, transpose(slice(c, [0, 0, 0], [5, 1, 4]), [2, 1, 0])], 1),
    });
    add({
      name: `assign into a strided slice ${dtype}`,
      tolerance: tol(dtype),
      inputs: (r) => [make(r, [6, 8]), make(r, [8, 3])],
      op: (target, source) => {
        const copy = contiguous(target);
        assign(slice(copy, [1, 2], [4, 8]), transpose(slice(source, [0, 0], [6, 3])));
        return copy;
      },
    });
    // Copies that transpose at least a tile (32) along both axes take the tiled kernel: edges that
    // cut tiles, batches with offsets, a destination strided along its rows. Copies are exact.
    add({
      name: `contiguous(transpose) of 150 × 70 (tiled) ${dtype}`,
      tolerance: 0,
      inputs: (r) => [make(r, [150, 70])],
      op: (x) => {
        const t = transpose(x);
        return released(contiguous(t), t);
      },
    });
    add({
      name: `contiguous of a batched, sliced transpose (tiled, offsets) ${dtype}`,
      tolerance: 0,
      inputs: (r) => [make(r, [3, 41, 2, 67])],
      op: (x) => {
        const s = slice(x, [1, 3, 1, 2], [3, 41, 2, 66]);
        const t = transpose(s, [3, 0, 2, 1]);
        return released(contiguous(t), s, t);
      },
    });
    add({
      name: `assign a transposed block into a strided target (tiled) ${dtype}`,
      tolerance: 0,
      inputs: (r) => [make(r, [40, 90]), make(r, [33, 36])],
      op: (target, source) => {
        const copy = contiguous(target);
        const [into, t] = [slice(copy, [2, 50], [38, 83]), transpose(source)];
        assign(into, t);
        return released(copy, into, t);
      },
    });
    add({ name: `gather axis 1 ${dtype}`, tolerance: tol(dtype), inputs: (r) => [make(r, [3, 10, 4]), ints(r, [13], 0, 10, 'i32')], op: (x, i) => gather(x, i, 1) });
    add({
      name: `scatter replace (repeated indices) ${dtype}`,
      tolerance: tol(dtype),
      inputs: (r) => [make(r, [9, 6]), tensor([2, 7, 2, 0, 7], [5], { dtype: 'i32' }), make(r, [5, 6])],
      op: (x, i, u) => scatter(x, i, u, 0, 'replace'),
    });
    add({
      name: `scatter add (repeated indices) ${dtype}`,
      tolerance: tol(dtype),
      inputs: (r) => [make(r, [4, 9]), tensor([1, 8, 1, 3, 1], [5], { dtype: 'u32' }), make(r, [4, 5])],
      op: (x, i, u) => scatter(x, i, u, 1, 'add'),
    });
  }

  const castPairs: [DType, DType][] = [
    ['f32', 'f16'], ['f32', 'bf16'], ['f16', 'f32'], ['bf16', 'f32'], ['f16', 'bf16'], ['f32', 'i32'], ['f32', 'u8'], ['f32', 'i8'], ['bf16', 'i32'],
    ['i32', 'f32'], ['i32', 'f16'], ['u32', 'bf16'], ['i8', 'i32'], ['i32', 'i8'], ['i32', 'u8'], ['u32', 'i32'], ['u8', 'f16'],
  ];
  for (const [from, to] of castPairs) {
    add({
      name: `cast ${from}→${to} (strided input)`,
      tolerance: tol(to) === 0 ? 0 : tol(to) / 10,
      inputs: (r) => [tol(from) > 0 ? normal(r, [6, 11], from, 300) : ints(r, [6, 11], from === 'i32' || from === 'i8' ? -128 : 0, from === 'u32' ? 70000 : 128, from)],
      op: (x) => cast(transpose(x), to),
    });
  }
  add({ name: 'cast f32→i32 (NaN → 0, saturating)', tolerance: 0, inputs: () => [tensor([Number.NaN, 3e9, -3e9, -2.7, 2.7, 0.5], [6])], op: (x) => cast(x, 'i32') });

  const binaryOps: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow'];
  for (const dtype of FLOATS) {
    for (const op of binaryOps) {
      add({
        name: `binary ${op} broadcast ${dtype}`,
        tolerance: tol(dtype),
        inputs: (r) => (op === 'pow' ? [unary('abs', normal(r, [4, 1, 33], dtype)), normal(r, [5, 33], dtype)] : [normal(r, [4, 1, 33], dtype), normal(r, [5, 33], dtype)]),
        op: (a, b) => binary(op, a, b),
      });
    }
    add({ name: `binary add dense ${dtype}`, tolerance: tol(dtype), inputs: (r) => [normal(r, [1031], dtype), normal(r, [1031], dtype)], op: (a, b) => binary('add', a, b) });
    add({ name: `binary maximum with NaN ${dtype}`, tolerance: tol(dtype), inputs: () => [tensor([1, Number.NaN, 3], [3], { dtype }), tensor([2, 0, Number.NaN], [3], { dtype })], op: (a, b) => binary('maximum', a, b) });
  }
  for (const dtype of ['i32', 'u8', 'i8', 'u32'] as DType[]) {
    for (const op of ['add', 'sub', 'mul', 'maximum', 'minimum'] as BinaryOp[]) {
      add({ name: `binary ${op} ${dtype} (wrapping)`, tolerance: 0, inputs: (r) => [ints(r, [7, 13], 0, 100, dtype), ints(r, [13], 0, 100, dtype)], op: (a, b) => binary(op, a, b) });
    }
  }

  const unaryOps: UnaryOp[] = ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'square', 'reciprocal', 'tanh', 'sigmoid', 'silu', 'gelu', 'geluTanh', 'relu', 'affine'];
  for (const dtype of FLOATS) {
    for (const op of unaryOps) {
      const positive = op === 'log' || op === 'sqrt' || op === 'rsqrt';
      add({
        name: `unary ${op} ${dtype}`,
        tolerance: tol(dtype),
        inputs: (r) => [positive ? unary('abs', normal(r, [1029], dtype)) : normal(r, [1029], dtype)],
        op: (x) => unary(op, x, { alpha: 1.5, beta: -0.25 }),
      });
    }
    add({ name: `unary exp strided ${dtype}`, tolerance: tol(dtype), inputs: (r) => [normal(r, [9, 17], dtype)], op: (x) => unary('exp', transpose(x)) });
  }
  for (const op of ['neg', 'abs', 'square', 'relu'] as UnaryOp[]) {
    add({ name: `unary ${op} i32`, tolerance: 0, inputs: (r) => [ints(r, [301], -1000, 1000, 'i32')], op: (x) => unary(op, x) });
  }

  const reduceOps: ReduceOp[] = ['sum', 'mean', 'max', 'min'];
  for (const dtype of FLOATS) {
    for (const op of reduceOps) {
      for (const axes of [[2], [0, 2], [1], undefined] as (number[] | undefined)[]) {
        add({
          name: `reduce ${op} axes=${axes ? axes.join(',') : 'all'} ${dtype}`,
          tolerance: tol(dtype),
          inputs: (r) => [normal(r, [6, 130, 7], dtype)],
          op: (x) => reduce(op, x, { axes, keepDims: axes?.length === 1 }),
        });
      }
    }
    add({ name: `reduce max with NaN ${dtype}`, tolerance: tol(dtype), inputs: (r) => [withTiesAndNaN(r, [4, 50], dtype)], op: (x) => reduce('max', x, { axes: [1] }) });
    add({ name: `argmax/argmin (ties, NaN) ${dtype}`, tolerance: 0, inputs: (r) => [withTiesAndNaN(r, [6, 300], dtype)], op: (x) => [argmax(x, 1), argmin(x, 0), argmax(transpose(x), 0, true)] });
    for (const n of [37, 3000]) {
      add({
        name: `topk n=${n} largest/smallest (ties, NaN) ${dtype}`,
        tolerance: 0,
        inputs: (r) => [withTiesAndNaN(r, [3, n], dtype)],
        op: (x) => {
          const a = topk(x, 9);
          const b = topk(x, 5, { largest: false });
          return [a.values, a.indices, b.values, b.indices];
        },
      });
    }
    add({ name: `softmax last axis ${dtype}`, tolerance: tol(dtype), inputs: (r) => [normal(r, [7, 1000], dtype, 3)], op: (x) => softmax(x) });
    add({ name: `logSoftmax middle axis ${dtype}`, tolerance: tol(dtype), inputs: (r) => [normal(r, [3, 40, 5], dtype, 3)], op: (x) => logSoftmax(x, 1) });
    add({ name: `softmax of a transposed view ${dtype}`, tolerance: tol(dtype), inputs: (r) => [normal(r, [30, 6], dtype)], op: (x) => softmax(transpose(x)) });
    add({ name: `rmsNorm ${dtype} (f32 weight)`, tolerance: tol(dtype), inputs: (r) => [normal(r, [5, 3, 96], dtype), normal(r, [96])], op: (x, w) => rmsNorm(x, w, 1e-5) });
    add({ name: `layerNorm ${dtype} with bias`, tolerance: tol(dtype), inputs: (r) => [normal(r, [9, 80], dtype, 2), normal(r, [80], dtype), normal(r, [80], dtype)], op: (x, w, b) => layerNorm(x, w, b) });
    add({ name: `layerNorm ${dtype} without bias`, tolerance: tol(dtype), inputs: (r) => [normal(r, [4, 33], dtype), normal(r, [33], dtype)], op: (x, w) => layerNorm(x, w) });
    for (const layout of ['half', 'interleaved'] as const) {
      add({
        name: `rope ${layout} partial rotary, gapped positions ${dtype}`,
        tolerance: tol(dtype),
        inputs: (r) => [normal(r, [3, 11, 64], dtype), tensor([0, 1, 2, 5, 9, 100, 101, 2047, 4000, 4001, 65000], [11], { dtype: 'i32' }), tensor(ropeInverseFrequencies(48, 10000), [24])],
        op: (x, p, f) => rope(x, p, f, layout),
      });
    }
  }

  // causalConv1d (LFM2's short convolution): one row (decode) or many, 2–4 taps, with and without a bias.
  for (const dtype of FLOATS) {
    for (const [n, channels, taps] of [[1, 33, 3], [7, 40, 4], [5, 9, 2]]) {
      const rows = n + taps - 1;
      add({
        name: `causalConv1d [${n},${channels},${taps}] ${dtype}`,
        tolerance: tol(dtype),
        inputs: (r) => [normal(r, [rows, channels], dtype), normal(r, [channels, taps], dtype), normal(r, [channels], dtype)],
        op: (x, w, b) => [causalConv1d(x, w), causalConv1d(x, w, b)],
      });
    }
  }
  add({
    name: 'causalConv1d of views: a sliced window, a Conv1d weight [channels, 1, taps], a transposed weight',
    tolerance: tol('f32'),
    inputs: (r) => [normal(r, [12, 21]), normal(r, [17, 1, 3]), normal(r, [3, 17])],
    op: (x, w, t) => {
      const [window, weight, byTap] = [slice(x, [2, 3], [11, 20]), squeeze(w, [1]), transpose(t, [1, 0])];
      return released([causalConv1d(window, weight), causalConv1d(window, byTap)], window, weight, byTap);
    },
  });

  // selectiveScan (Mamba's recurrence): one row or many, grouped B and C, dState off the warp's 32 lanes, a rate
  // per head (Mamba-2) or per state entry (1: Mamba-1's).
  for (const dtype of FLOATS) {
    for (const [n, heads, headDim, groups, dState, perState = 0] of [[1, 4, 3, 1, 16], [7, 6, 5, 3, 70], [4, 2, 2, 2, 1], [5, 24, 1, 1, 16, 1], [3, 4, 3, 2, 70, 1]]) {
      const rates = perState ? [heads, dState] : [heads];
      add({
        name: `selectiveScan [${n},${heads},${headDim},${groups},${dState}]${perState ? ' per state entry' : ''} ${dtype}`,
        tolerance: tol(dtype),
        inputs: (r) => [
          normal(r, [n, heads, headDim], dtype),
          tensor(Array.from({ length: n * heads }, () => 0.05 + r.uniform()), [n, heads], { dtype }),
          tensor(Array.from({ length: rates[0] * (rates[1] ?? 1) }, () => -0.1 - 2 * r.uniform()), rates),
          normal(r, [n, groups, dState], dtype),
          normal(r, [n, groups, dState], dtype),
          normal(r, [heads, headDim, dState]),
        ],
        op: (x, dt, a, b, c, state) => {
          const { y, state: next } = selectiveScan(x, dt, a, b, c, state);
          return [y, next];
        },
      });
    }
  }

  // gatedDeltaRule (Gated DeltaNet's recurrence): one row or many, grouped keys, columns off the block of 128.
  for (const dtype of FLOATS) {
    for (const [n, keyHeads, heads, dk, dv] of [[1, 2, 4, 16, 16], [7, 1, 3, 9, 70], [4, 2, 2, 1, 1]]) {
      add({
        name: `gatedDeltaRule [${n},${keyHeads},${heads},${dk},${dv}] ${dtype}`,
        tolerance: tol(dtype),
        inputs: (r) => [
          tensor(Array.from({ length: n * keyHeads * dk }, () => r.normal() / Math.sqrt(dk)), [n, keyHeads, dk], { dtype }),
          tensor(Array.from({ length: n * keyHeads * dk }, () => r.normal() / Math.sqrt(dk)), [n, keyHeads, dk], { dtype }),
          normal(r, [n, heads, dv], dtype),
          tensor(Array.from({ length: n * heads }, () => -0.02 - 0.5 * r.uniform()), [n, heads]),
          tensor(Array.from({ length: n * heads }, () => 0.05 + 0.9 * r.uniform()), [n, heads], { dtype }),
          normal(r, [heads, dk, dv]),
        ],
        op: (q, k, v, g, beta, state) => {
          const { output, state: next } = gatedDeltaRule(q, k, v, g, beta, state);
          return [output, next];
        },
      });
    }
  }

  // matmul: batch broadcast, transposes, the tensor-core and SIMT paths.
  const mm = (name: string, dtype: DType, aShape: number[], bShape: number[], options: { transposeA?: boolean; transposeB?: boolean } = {}) =>
    add({ name: `matmul ${name} ${dtype}`, tolerance: tol(dtype), inputs: (r) => [normal(r, aShape, dtype), normal(r, bShape, dtype)], op: (a, b) => matmul(a, b, options) });
  for (const dtype of FLOATS) {
    mm('batch-broadcast [3,65,70]x[70,33]', dtype, [3, 65, 70], [70, 33]);
    mm('Aᵀ', dtype, [70, 65], [70, 33], { transposeA: true });
    mm('Bᵀ', dtype, [2, 1, 65, 70], [4, 33, 70], { transposeB: true });
    mm('AᵀBᵀ', dtype, [70, 65], [33, 70], { transposeA: true, transposeB: true });
    mm('aligned 200x136x264', dtype, [200, 264], [264, 136]);
    mm('aligned Aᵀ 128x256x64', dtype, [64, 128], [64, 256], { transposeA: true });
    mm('aligned Bᵀ 136x72x520', dtype, [136, 520], [72, 520], { transposeB: true });
    mm('aligned AᵀBᵀ 64x64x96', dtype, [96, 64], [64, 96], { transposeA: true, transposeB: true });
    mm('decode 1x4096x512', dtype, [1, 512], [4096, 512], { transposeB: true });
  }

  // The two tensor-core kernels, each forced (KVKIT_CUDA_MATMUL) so that any device runs both on
  // these small shapes: every A/B layout, edges off the 128×256 and 128×128 tiles, k-tiles wrapping
  // the 4-stage ring, batches with broadcast, and unaligned n (scalar stores of C's rows).
  for (const kernel of ['mma256', 'mma128'] as const) {
    const forced = (name: string, dtype: DType, aShape: number[], bShape: number[], options: { transposeA?: boolean; transposeB?: boolean } = {}) =>
      add({
        name: `matmul ${kernel} ${name} ${dtype}`,
        tolerance: tol(dtype),
        inputs: (r) => [normal(r, aShape, dtype), normal(r, bShape, dtype)],
        op: (a, b) => withMatmulKernel(kernel, () => matmul(a, b, options)),
      });
    for (const dtype of ['f16', 'bf16'] as DType[]) {
      forced('AB 300x520x200', dtype, [300, 200], [200, 520]);
      forced('AᵀB 136x264x200', dtype, [200, 136], [200, 264], { transposeA: true });
      forced('ABᵀ 257x129x72', dtype, [257, 72], [129, 72], { transposeB: true });
      forced('AᵀBᵀ 264x136x104', dtype, [104, 264], [136, 104], { transposeA: true, transposeB: true });
      forced('batch-broadcast [2,1,72,40]x[3,40,264]', dtype, [2, 1, 72, 40], [3, 40, 264]);
    }
  }
  // Big enough (in blocks) for any device to pick the 128×256 kernel without being forced.
  add({
    name: 'matmul picks the 128×256 tensor-core kernel for 96 products of 32x264x16 bf16',
    tolerance: tol('bf16'),
    inputs: (r) => [normal(r, [96, 32, 16], 'bf16'), normal(r, [96, 16, 264], 'bf16')],
    op: (a, b) => expectLaunch(a.backend, 'kv_gemm_mma256_bf16_kn', () => matmul(a, b)),
  });

  // indexedMatmul (the MoE expert product): [rows, count, n, k] with rows = 1, rows > count, matrices
  // no row uses, n and k off the 8-column blocks and the 16-byte vectors (element loads), and
  // vector-aligned k (16-byte loads; k = 300 is aligned for f32 only).
  const im = (name: string, [rows, count, n, k]: number[], dtype: DType, stackDType: DType = dtype, indexDType: DType = 'i32') =>
    add({
      name: `indexedMatmul ${name} [${rows},${count},${n},${k}] ${dtype}`,
      tolerance: tol(dtype),
      inputs: (r) => [normal(r, [rows, k], dtype), normal(r, [count, n, k], stackDType), ints(r, [rows], 0, count, indexDType)],
      op: (x, w, i) => indexedMatmul(x, w, i),
    });
  for (const dtype of FLOATS) {
    for (const shape of [[1, 4, 29, 37], [7, 3, 29, 37], [5, 8, 96, 200], [3, 2, 13, 300]]) im('', shape, dtype);
  }
  im('u32 indices', [6, 5, 29, 40], 'f32', 'f32', 'u32');
  for (const half of ['f16', 'bf16'] as DType[]) im(`f32 · ${half} stack`, [4, 3, 29, 40], 'f32', half);
  add({
    name: 'indexedMatmul of views: sliced x, sliced and transposed stacks, strided indices',
    tolerance: tol('f32'),
    inputs: (r) => [normal(r, [9, 41]), normal(r, [5, 31, 40]), normal(r, [4, 37, 29]), tensor([7, 2, 7, 0, 7, 3, 7, 2], [4, 2], { dtype: 'i32' })],
    op: (x, w, t, i) => {
      const [xs, ws, wt, column] = [slice(x, [2, 1], [6, 38]), slice(w, [1, 2, 3], [5, 31, 40]), transpose(t, [0, 2, 1]), slice(i, [0, 1], [4, 2])];
      const is = squeeze(column, [1]);
      return released([indexedMatmul(xs, ws, is), indexedMatmul(xs, wt, is)], xs, ws, wt, column, is);
    },
  });
  add({
    name: 'indexedMatmul reads aligned f16 rows 16 bytes at a time',
    tolerance: tol('f16'),
    inputs: (r) => [normal(r, [3, 64], 'f16'), normal(r, [4, 24, 64], 'f16'), ints(r, [3], 0, 4, 'i32')],
    op: (x, w, i) => expectLaunch(x.backend, 'kv_indexed_matmul_v_f16', () => indexedMatmul(x, w, i)),
  });
  // A decode step's single row, a view of a wider x: its row stride (65) is never stepped along.
  add({
    name: 'indexedMatmul reads one row of a wider f16 x 16 bytes at a time',
    tolerance: tol('f16'),
    inputs: (r) => [normal(r, [3, 65], 'f16'), normal(r, [4, 24, 64], 'f16'), ints(r, [1], 0, 4, 'i32')],
    op: (x, w, i) => {
      const row = slice(x, [0, 0], [1, 64]);
      return released([expectLaunch(x.backend, 'kv_indexed_matmul_v_f16', () => indexedMatmul(row, w, i))], row);
    },
  });

  for (const bits of [1, 2, 3, 4, 8]) {
    add({
      name: `packBits/unpackBits ${bits}-bit, groups of 24`,
      tolerance: 0,
      inputs: (r) => [ints(r, [5, 100], 0, 2 ** bits, 'u8')],
      op: (codes) => {
        const words = packBits(codes, bits, { groupSize: 24 });
        return [words, unpackBits(words, bits, 100, { groupSize: 24 })];
      },
    });
  }
  add({ name: 'packBits from u32 codes, whole rows', tolerance: 0, inputs: (r) => [ints(r, [3, 77], 0, 16, 'u32')], op: (c) => packBits(c, 4) });

  for (const [qd, kvd] of [['f32', 'f32'], ['f16', 'f16'], ['bf16', 'bf16'], ['f32', 'f16']] as [DType, DType][]) {
    add({
      name: `attention GQA 8/2, causal, statistics, log-sum-exp q=${qd} kv=${kvd}`,
      tolerance: Math.max(tol(qd), tol(kvd)),
      inputs: (r) => [normal(r, [8, 5, 64], qd), normal(r, [2, 70, 64], kvd), normal(r, [2, 70, 48], kvd)],
      op: (q, k, v) => {
        const { output, statistics, lse } = attention(q, k, v, { statistics: true, returnLse: true });
        return [output, statistics!.keySum, statistics!.keyMax, lse!];
      },
    });
    add({
      name: `attention window + softcap + gapped positions q=${qd} kv=${kvd}`,
      tolerance: Math.max(tol(qd), tol(kvd)),
      inputs: (r) => [
        normal(r, [4, 3, 32], qd), normal(r, [4, 20, 32], kvd), normal(r, [4, 20, 32], kvd),
        tensor([3, 40, 41], [3], { dtype: 'i32' }), tensor(Array.from({ length: 20 }, (_, j) => 2 * j + (j > 10 ? 5 : 0)), [20], { dtype: 'i32' }),
      ],
      op: (q, k, v, qp, kp) => {
        const { output, statistics, lse } = attention(q, k, v, { queryPositions: qp, keyPositions: kp, window: 9, softcap: 5, statistics: true, returnLse: true });
        return [output, statistics!.keySum, statistics!.keyMax, lse!];
      },
    });
  }
  add({
    name: 'attention: a query that sees no key outputs zeros',
    tolerance: 1e-5,
    inputs: (r) => [normal(r, [2, 2, 16]), normal(r, [1, 4, 16]), normal(r, [1, 4, 16]), tensor([-1, 3], [2], { dtype: 'i32' }), tensor([0, 1, 2, 3], [4], { dtype: 'i32' })],
    op: (q, k, v, qp, kp) => attention(q, k, v, { queryPositions: qp, keyPositions: kp }).output,
  });
  return cases;
}

/** `op` with KVKIT_CUDA_MATMUL set to `kernel` (the CUDA launcher reads it per call). */
function withMatmulKernel<R>(kernel: string, op: () => R): R {
  const previous = process.env.KVKIT_CUDA_MATMUL;
  process.env.KVKIT_CUDA_MATMUL = kernel;
  try {
    return op();
  } finally {
    if (previous === undefined) delete process.env.KVKIT_CUDA_MATMUL;
    else process.env.KVKIT_CUDA_MATMUL = previous;
  }
}

/** `op`'s result, having checked that on a CUDA backend it launched `kernel`. */
function expectLaunch<R>(backend: Backend, kernel: string, op: () => R): R {
  if (backend.name !== 'cuda') return op();
  const target = backend as Backend & { launch: (...args: unknown[]) => unknown };
  const launch = target.launch;
  const launched: string[] = [];
  target.launch = (...args: unknown[]) => {
    launched.push(String(args[1]));
    return launch.apply(target, args);
  };
  try {
    const result = op();
    if (!launched.includes(kernel)) throw new Error(`expected a launch of ${kernel}, got ${launched.join(', ') || 'none'}`);
    return result;
  } finally {
    target.launch = launch;
  }
}

// `full` creates on a backend directly: the runner points this at the backend of the run.
let currentBackend: Backend | string = 'cpu';

async function readNumbers(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.readFloat32());
}

/** Runs one case on both backends and compares every output. */
export async function runParityCase(c: ParityCase, cuda: Backend, rng: Rng): Promise<ParityResult> {
  const cpuInputs = c.inputs(rng);
  const cudaInputs = await Promise.all(cpuInputs.map((t) => toBackend(t, cuda)));
  const outputs: Tensor[] = [];
  try {
    currentBackend = 'cpu';
    const expected = [c.op(...cpuInputs)].flat();
    currentBackend = cuda;
    const actual = [c.op(...cudaInputs)].flat();
    outputs.push(...expected, ...actual);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) {
      if (actual[i].dtype !== expected[i].dtype || actual[i].shape.join() !== expected[i].shape.join()) {
        return { name: c.name, error: Infinity, tolerance: c.tolerance, pass: false, detail: `output ${i}: ${actual[i]} vs ${expected[i]}` };
      }
      const error = relativeError(await readNumbers(actual[i]), await readNumbers(expected[i]));
      worst = Math.max(worst, error);
    }
    return { name: c.name, error: worst, tolerance: c.tolerance, pass: worst <= c.tolerance };
  } catch (error) {
    return { name: c.name, error: Infinity, tolerance: c.tolerance, pass: false, detail: (error as Error).stack ?? String(error) };
  } finally {
    currentBackend = 'cpu';
    for (const t of [...cpuInputs, ...cudaInputs, ...outputs]) t.dispose();
  }
}
