// tensor-core's CUDA softmax, log-softmax and RMSNorm over the row lengths that pick each of their
// kernels, on the CPU emulator against the CPU backend: single-pass rows held in registers (a warp
// per row, several rows per block, up to 512 threads per row; 16-byte loads when every row start is
// aligned, element loads otherwise) and the multi-pass kernels past the register limit (8192 f32,
// 16384 f16/bf16 elements). Seeded random inputs, large magnitudes (the max subtraction matters),
// unaligned and strided views, NaN and −∞ rows.
import { createRng, type DType, logSoftmax, randomNormal, reshape, rmsNorm, type Rng, slice, softmax, tensor, type Tensor, transpose } from '@kvkit/tensor-core';
import { CUDA_MODULES, type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCudaRuntime } from '../src/index.js';
import { type ParityCase, runParityCase } from './parity-cases.js';

const seed = freshSeed();
const rng = createRng(seed);
let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  cuda.module(CUDA_MODULES.find((m) => m.name === 'kvkit-softmax-norm')!); // compile (or read from the disk cache) up front
}, 600_000);

const tolerance = (dtype: DType): number => (dtype === 'f32' ? 1e-5 : 1e-2);
/** Rows per length: enough short rows to leave a block's last rows past the end, few long ones (the emulator is slow). */
const rowsFor = (n: number): number => (n <= 128 ? 37 : n <= 4097 ? 5 : 2);
const normal = (r: Rng, shape: number[], dtype: DType, std: number): Tensor => randomNormal(shape, r, { dtype, std });

/**
 * A view of `flat` (rows · n + 1 elements) as rows × n from its second element: contiguous, but no
 * row start is 16-byte aligned. Taken inside the op, on each backend (an upload would realign it).
 */
function unaligned(flat: Tensor, rows: number, n: number): Tensor {
  return reshape(slice(flat, [1], [rows * n + 1]), [rows, n]);
}

function cases(): ParityCase[] {
  const list: ParityCase[] = [];
  const lengths = [1, 3, 31, 32, 33, 127, 4096, 4097, 8192, 8193, 16384, 16385];
  for (const dtype of ['f32', 'f16', 'bf16'] as DType[]) {
    const tol = tolerance(dtype);
    for (const n of lengths) {
      const rows = rowsFor(n);
      list.push({ name: `softmax rows of ${n} ${dtype}`, tolerance: tol, inputs: (r) => [normal(r, [rows, n], dtype, 8)], op: (x) => softmax(x) });
      list.push({ name: `logSoftmax rows of ${n} ${dtype}`, tolerance: tol, inputs: (r) => [normal(r, [rows, n], dtype, 8)], op: (x) => logSoftmax(x) });
      list.push({ name: `rmsNorm rows of ${n} ${dtype} (f32 weight)`, tolerance: tol, inputs: (r) => [normal(r, [rows, n], dtype, 3), normal(r, [n], 'f32', 1)], op: (x, w) => rmsNorm(x, w, 1e-5) });
    }
    for (const n of [32, 4096, 8192]) {
      list.push({ name: `softmax rows of ${n} ${dtype}, unaligned view`, tolerance: tol, inputs: (r) => [normal(r, [3 * n + 1], dtype, 4)], op: (flat) => softmax(unaligned(flat, 3, n)) });
      list.push({
        name: `rmsNorm rows of ${n} ${dtype}, unaligned view, ${dtype} weight`,
        tolerance: tol,
        inputs: (r) => [normal(r, [3 * n + 1], dtype, 4), normal(r, [n], dtype, 1)],
        op: (flat, w) => rmsNorm(unaligned(flat, 3, n), w, 1e-6),
      });
    }
    list.push({
      name: `rmsNorm rows of 4096 ${dtype}, ${dtype} weight one element into its buffer (element loads)`,
      tolerance: tol,
      inputs: (r) => [normal(r, [3, 4096], dtype, 3), normal(r, [4097], dtype, 1)],
      op: (x, w) => rmsNorm(x, slice(w, [1], [4097])),
    });
    list.push({ name: `softmax of a transposed view (rows of 96) ${dtype}`, tolerance: tol, inputs: (r) => [normal(r, [96, 40], dtype, 4)], op: (x) => softmax(transpose(x)) });
    list.push({ name: `rmsNorm of a transposed view (rows of 200) ${dtype}, bf16 weight`, tolerance: tol, inputs: (r) => [normal(r, [200, 9], dtype, 2), normal(r, [200], 'bf16', 1)], op: (x, w) => rmsNorm(transpose(x), w) });
    // Rows of 1000 take 64 threads each, 4 rows per block: 6 rows leave the second block half empty.
    list.push({ name: `logSoftmax over 3-d rows of 1000 ${dtype}`, tolerance: tol, inputs: (r) => [normal(r, [2, 3, 1000], dtype, 3)], op: (x) => logSoftmax(x, 2) });
    list.push({ name: `rmsNorm over 3-d rows of 1000 ${dtype}, f16 weight`, tolerance: tol, inputs: (r) => [normal(r, [3, 2, 1000], dtype, 3), normal(r, [1000], 'f16', 1)], op: (x, w) => rmsNorm(x, w) });
  }
  return list;
}

describe(`softmax / RMSNorm row kernels on the emulator match the CPU backend (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const c of cases()) {
    it(c.name, async () => {
      const result = await runParityCase(c, cuda, rng);
      if (!result.pass) throw new Error(`${c.name}: relative error ${result.error} > ${result.tolerance} [seed ${seed}]${result.detail ? `\n${result.detail}` : ''}`);
      expect(result.error).toBeLessThanOrEqual(c.tolerance);
    });
  }

  // A NaN makes its whole row NaN, an all −∞ row is NaN (−∞ − −∞), a row with one −∞ gives it 0;
  // the other rows are unaffected. Compared element by element (NaN positions included).
  for (const n of [5, 300, 4099]) {
    it(`softmax NaN and −∞ rows (rows of ${n})`, async () => {
      const values = Array.from({ length: 4 * n }, () => rng.normal());
      values[2] = Number.NaN;
      for (let i = n; i < 2 * n; i++) values[i] = -Infinity;
      values[2 * n + 1] = -Infinity;
      const x = tensor(values, [4, n]);
      const expected = await softmax(x).readFloat32();
      const actual = await softmax(tensor(values, [4, n], { backend: cuda })).readFloat32();
      for (let i = 0; i < values.length; i++) {
        if (Number.isNaN(expected[i])) expect(actual[i], `element ${i}`).toBeNaN();
        else expect(Math.abs(actual[i] - expected[i]), `element ${i}`).toBeLessThanOrEqual(1e-6);
      }
    });
  }
});
