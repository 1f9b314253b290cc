// kv-quant's CUDA kernels write only inside their outputs. The emulator runs threads in order, so a
// thread that writes past its part of the output is hidden when a later thread overwrites those
// words (a race on a real GPU) and when the spill lands in the allocator's slack past the last row.
// Here each kernel is launched by name on an output followed by a guard region filled with a
// sentinel: the outputs must equal the CPU kernel's, and the guard must come back untouched.
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { createRng, reshape, slice, type Tensor, tensor, toBackend, wordsPerRow } from '@kvkit/tensor-core';
import { arg, BLOCK, type CudaBackend, createCudaBackend, gridFor } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { dequantizeFp8, dequantizeUniform, quantizeFp8, quantizeUniform, type UniformQuantAttrs } from '../src/index.js';
import { fp8CudaModule } from '../src/cuda/fp8.js';
import { uniformCudaModule } from '../src/cuda/uniform.js';
import { compare } from './gpu-parity-cases.js';

const seed = freshSeed();
const rng = createRng(seed);
const GUARD = 16;
const SENTINEL_WORD = 0xdeadbeef;
const SENTINEL_VALUE = Math.fround(-1.2345e30); // far outside every dequantized value below
let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of [uniformCudaModule, fp8CudaModule]) cuda.module(module);
}, 600_000);

const randomValues = (count: number) => Float32Array.from({ length: count }, () => (rng.uniform() * 2 - 1) * 3);

/** A CUDA buffer of `size` elements followed by GUARD sentinel elements. */
function guarded(size: number, dtype: 'u32' | 'f32'): Tensor {
  const sentinel = dtype === 'u32' ? SENTINEL_WORD : SENTINEL_VALUE;
  return tensor(dtype === 'u32' ? new Uint32Array(size + GUARD).fill(sentinel) : new Float32Array(size + GUARD).fill(sentinel), [size + GUARD], {
    dtype,
    backend: cuda,
  });
}

/** The first mismatch of `out` (output + guard) against `ref` (bit for bit), then of the guard against the sentinel. */
async function checkGuarded(out: Tensor, ref: Tensor): Promise<string | undefined> {
  const mismatch = await compare('output', reshape(slice(out, [0], [ref.size]), ref.shape), ref);
  if (mismatch) return mismatch;
  const guard = await slice(out, [ref.size]).read();
  const sentinel = out.dtype === 'u32' ? SENTINEL_WORD : SENTINEL_VALUE;
  const i = Array.from(guard as ArrayLike<number>).findIndex((v) => v !== sentinel);
  return i < 0 ? undefined : `guard[${i}] overwritten: ${guard[i]} (sentinel ${sentinel})`;
}

// Short last groups whose codes need fewer words than a full group's (bits, groupSize, row length).
const SHORT_TAILS: [number, number, number][] = [
  [8, 16, 35], // 4 words per group, the tail of 3 needs 1
  [4, 64, 73], // 8 words per group, the tail of 9 needs 2
  [3, 32, 37], // 4 words per group, the tail of 5 needs 1
  [2, 40, 41], // 3 words per group, the tail of 1 needs 1
  [1, 64, 65], // 2 words per group, the tail of 1 needs 1
];
const ROWS = 3;

describe(`kv-quant CUDA kernels write only their outputs (emulator, guard after the buffer; seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const [bits, groupSize, n] of SHORT_TAILS) {
    for (const symmetric of bits === 1 ? [false] : [false, true]) {
      const attrs: UniformQuantAttrs = { bits, groupSize, symmetric, paramDType: 'f32' };
      it(`uniform quantize ${symmetric ? 'sym' : 'asym'} ${bits}-bit g${groupSize}, rows of ${n}: a short last group writes only its own words`, async () => {
        const data = randomValues(ROWS * n);
        const ref = quantizeUniform(tensor(data, [ROWS, n]), attrs);
        const rowWords = wordsPerRow(n, bits, groupSize);
        const groups = Math.ceil(n / groupSize);
        const codes = guarded(ROWS * rowWords, 'u32');
        const scale = cuda.empty([ROWS * groups], 'f32');
        const zero = cuda.empty([ROWS * groups], 'f32');
        const x = tensor(data, [ROWS * n], { backend: cuda });
        cuda.launch(uniformCudaModule, 'kv_quantize_uniform_f32_f32', { grid: gridFor(ROWS * groups, cuda), block: BLOCK }, [
          arg.ptr(cuda.address(codes)), arg.ptr(cuda.address(scale)), arg.ptr(symmetric ? 0 : cuda.address(zero)), arg.ptr(cuda.address(x)),
          arg.i64(ROWS), arg.i64(n), arg.i64(groupSize), arg.i64(rowWords), arg.i32(bits), arg.bool(symmetric),
        ]);
        expect(await checkGuarded(codes, ref.codes), `[seed ${seed}]`).toBeUndefined();
      });

      it(`uniform dequantize ${symmetric ? 'sym' : 'asym'} ${bits}-bit g${groupSize}, rows of ${n}: one value per element, nothing after`, async () => {
        const ref = quantizeUniform(tensor(randomValues(ROWS * n), [ROWS, n]), attrs);
        const expected = dequantizeUniform(ref, n, attrs);
        const out = guarded(ROWS * n, 'f32');
        const [codes, scale, zero] = await Promise.all([ref.codes, ref.scale, ref.zero].map((t) => t && toBackend(t, cuda)));
        cuda.launch(uniformCudaModule, 'kv_dequantize_uniform_f32', { grid: gridFor(ROWS * n, cuda), block: BLOCK }, [
          arg.ptr(cuda.address(out)), arg.ptr(cuda.address(codes!)), arg.ptr(cuda.address(scale!)), arg.ptr(zero ? cuda.address(zero) : 0), arg.i64(ROWS), arg.i64(n), arg.i64(groupSize),
          arg.i64(wordsPerRow(n, bits, groupSize)), arg.i32(bits),
        ]);
        expect(await checkGuarded(out, expected), `[seed ${seed}]`).toBeUndefined();
      });
    }
  }

  for (const n of [37, 38, 39, 40]) {
    it(`fp8 e4m3 quantize and dequantize, rows of ${n}: a short last word, nothing after`, async () => {
      const data = randomValues(ROWS * n);
      const scales = Float32Array.of(0.5, 0.25, 2);
      const ref = quantizeFp8(tensor(data, [ROWS, n]), tensor(scales, [ROWS]), 'e4m3');
      const rowWords = wordsPerRow(n, 8);
      const words = guarded(ROWS * rowWords, 'u32');
      const x = tensor(data, [ROWS * n], { backend: cuda });
      const s = tensor(scales, [ROWS], { backend: cuda });
      cuda.launch(fp8CudaModule, 'kv_quantize_fp8_f32', { grid: gridFor(ROWS * rowWords, cuda), block: BLOCK }, [
        arg.ptr(cuda.address(words)), arg.ptr(cuda.address(x)), arg.ptr(cuda.address(s)),
        arg.i64(ROWS), arg.i64(n), arg.i64(rowWords), arg.i64(1), arg.i32(4),
      ]);
      expect(await checkGuarded(words, ref), `quantize [seed ${seed}]`).toBeUndefined();

      const out = guarded(ROWS * n, 'f32');
      cuda.launch(fp8CudaModule, 'kv_dequantize_fp8', { grid: gridFor(ROWS * n, cuda), block: BLOCK }, [
        arg.ptr(cuda.address(out)), arg.ptr(cuda.address(words)), arg.ptr(cuda.address(s)),
        arg.i64(ROWS), arg.i64(n), arg.i64(rowWords), arg.i64(1), arg.i32(4),
      ]);
      expect(await checkGuarded(out, dequantizeFp8(ref, tensor(scales, [ROWS]), 'e4m3', n)), `dequantize [seed ${seed}]`).toBeUndefined();
    });
  }
});
