/**
 * Parity of every WebGPU kernel with the CPU backend (the oracle) on fresh random inputs, including
 * views (slices, transposes, broadcasts), every dtype a kernel accepts, and the NaN/rounding rules.
 * Plain async functions that throw on mismatch, so the same cases run in Node (vitest) and in
 * headless Chromium (browser.test.ts bundles this file).
 */
import {
  type Backend, type DType, type Rng, type Tensor,
  argmax, argmin, assign, attention, binary, cast, causalConv1d, concat, contiguous, createCache, createRng, denseCache, expandDims, full, gather, getBackend,
  gatedDeltaRule, indexedMatmul, layerNorm, logSoftmax, matmul, packBits, reduce, rmsNorm, rope, ropeInverseFrequencies, scatter, selectiveScan, slice, softmax, squeeze, tensor, topk,
  transpose, unary, unpackBits,
} from '../../src/index.js';
import { assertClose } from '../../src/testing/index.js';
import type { BinaryOp, ReduceOp, UnaryOp } from '../../src/index.js';

/**
 * How much of each case to run. `FULL` (Node): every float dtype and layout variant. `LITE` (the
 * browser, where every pipeline compiles again in Chromium's GPU process): every kernel, f32 and
 * f16, without the variants that only change tile constants or batch rank.
 */
export interface ParityScope {
  floats: readonly DType[];
  full: boolean;
}

export const FULL: ParityScope = { floats: ['f32', 'f16', 'bf16'], full: true };
export const LITE: ParityScope = { floats: ['f32', 'f16'], full: false };

export interface ParityCase {
  name: string;
  run(gpu: Backend, rng: Rng, scope: ParityScope): Promise<void>;
}
const TOLERANCE: Record<string, number> = { f32: 1e-5, f16: 2e-3, bf16: 1e-2 };

function normals(rng: Rng, n: number, scale = 1): number[] {
  return Array.from({ length: n }, () => scale * rng.normal());
}

function ints(rng: Rng, n: number, low: number, high: number): number[] {
  return Array.from({ length: n }, () => low + rng.int(high - low));
}

/** The same host data as a CPU tensor and a GPU tensor. */
function both(gpu: Backend, values: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): [Tensor, Tensor] {
  return [tensor(values, shape, { dtype, backend: getBackend('cpu') }), tensor(values, shape, { dtype, backend: gpu })];
}

function fail(label: string, detail: string): never {
  throw new Error(`${label}: ${detail}`);
}

/** Same shape and dtype, and elements equal (floats: NaN matches NaN, +0 and −0 differ; integers: exactly). */
async function expectExact(label: string, expected: Tensor, actual: Tensor): Promise<void> {
  if (expected.dtype !== actual.dtype) fail(label, `dtype ${actual.dtype}, expected ${expected.dtype}`);
  if (expected.shape.join() !== actual.shape.join()) fail(label, `shape [${actual.shape}], expected [${expected.shape}]`);
  const float = expected.dtype === 'f32' || expected.dtype === 'f16' || expected.dtype === 'bf16';
  // Integers compare as read (u32/i32 do not fit f32 exactly); floats as decoded values.
  const e: ArrayLike<number> = float ? await expected.readFloat32() : await expected.read();
  const a: ArrayLike<number> = float ? await actual.readFloat32() : await actual.read();
  for (let i = 0; i < e.length; i++) {
    if (!(Object.is(e[i], a[i]) || (Number.isNaN(e[i]) && Number.isNaN(a[i])))) fail(label, `element ${i} is ${a[i]}, expected ${e[i]}`);
  }
}

/** Same shape and dtype, relative error within the dtype's tolerance (NaN only where the CPU has NaN). */
async function expectClose(label: string, expected: Tensor, actual: Tensor, tolerance = TOLERANCE[expected.dtype] ?? 0): Promise<void> {
  if (expected.dtype !== actual.dtype) fail(label, `dtype ${actual.dtype}, expected ${expected.dtype}`);
  if (expected.shape.join() !== actual.shape.join()) fail(label, `shape [${actual.shape}], expected [${expected.shape}]`);
  assertClose(await actual.readFloat32(), await expected.readFloat32(), tolerance, label);
}

const UNARY: readonly UnaryOp[] = ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'square', 'reciprocal', 'tanh', 'sigmoid', 'silu', 'gelu', 'geluTanh', 'relu', 'affine'];
const BINARY: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow'];

export const PARITY_CASES: ParityCase[] = [
  {
    name: 'upload/download round trip of every dtype, including odd sub-word offsets',
    async run(gpu, rng, scope) {
      const samples: Record<DType, number[]> = {
        f32: normals(rng, 37),
        f16: normals(rng, 37),
        bf16: normals(rng, 37),
        i8: ints(rng, 37, -128, 128),
        u8: ints(rng, 37, 0, 256),
        i32: ints(rng, 37, -2e9, 2e9),
        u32: ints(rng, 37, 0, 4e9),
      };
      for (const [dtype, values] of Object.entries(samples) as [DType, number[]][]) {
        const [c, g] = both(gpu, values, [37], dtype);
        await expectExact(`round trip ${dtype}`, c, g);
        await expectExact(`offset read ${dtype}`, slice(c, [3], [36]), slice(g, [3], [36]));
      }
    },
  },
  {
    name: 'contiguous copies of sliced and transposed views (bit-exact, every dtype)',
    async run(gpu, rng, scope) {
      for (const dtype of ['f32', 'f16', 'u8', 'i32'] as DType[]) {
        const values = dtype === 'u8' ? ints(rng, 120, 0, 256) : dtype === 'i32' ? ints(rng, 120, -1000, 1000) : normals(rng, 120);
        const [c, g] = both(gpu, values, [2, 3, 4, 5], dtype);
        const view = (t: Tensor) => slice(transpose(t, [3, 1, 0, 2]), [1, 0, 0, 1], [5, 3, 2, 4]);
        await expectExact(`contiguous ${dtype}`, contiguous(view(c)), contiguous(view(g)));
        await expectExact(`broadcast view ${dtype}`, contiguous(expandDims(c, 1)), contiguous(expandDims(g, 1)));
      }
    },
  },
  {
    name: 'cast between all dtypes with the CPU rounding, truncation, saturation and NaN rules',
    async run(gpu, rng, scope) {
      const special = [NaN, Infinity, -Infinity, 0, -0, 0.5, -0.5, 1.5, 2.5, -2.5, 127.9, -128.9, 255.5, 300, -300, 65504, 65520, 1e-8, 6e-8, 3e9, -3e9, 5e9];
      const values = [...special, ...normals(rng, 40, 100), ...normals(rng, 20, 1e-5)];
      const dtypes: DType[] = ['f32', 'f16', 'bf16', 'i8', 'u8', 'i32', 'u32'];
      const [c32, g32] = both(gpu, values, [values.length], 'f32');
      for (const to of dtypes) await expectExact(`cast f32 → ${to}`, cast(c32, to), cast(g32, to));
      const integers = [0, 1, -1, 127, 128, -128, -129, 255, 256, 2147483647, -2147483648, 123456789];
      for (const from of ['i32', 'u32', 'i8', 'u8'] as DType[]) {
        const [lo, hi] = from === 'i32' ? [-2147483648, 2147483647] : from === 'u32' ? [0, 4294967295] : from === 'i8' ? [-128, 127] : [0, 255];
        const fitting = [...integers, lo, hi, ...ints(rng, 20, Math.max(lo, -1e6), Math.min(hi, 1e6))].filter((v) => v >= lo && v <= hi);
        const [ci, gi] = both(gpu, fitting, [fitting.length], from);
        for (const to of dtypes) await expectExact(`cast ${from} → ${to}`, cast(ci, to), cast(gi, to));
      }
      // Every f16 bit pattern decodes exactly, and re-encodes to the same bits.
      const patterns = new Uint16Array(65536).map((_, i) => i);
      const [ch, gh] = both(gpu, patterns, [65536], 'f16');
      await expectExact('f16 → f32, all patterns', cast(ch, 'f32'), cast(gh, 'f32'));
      await expectExact('f16 → bf16, all patterns', cast(ch, 'bf16'), cast(gh, 'bf16'));
      // f32 values exactly on f16/bf16 rounding ties (round half to even) and 2^-20 relative beside them.
      for (const [to, mantissa] of [['f16', 10], ['bf16', 7]] as const) {
        const ties = Array.from({ length: 300 }, (_, i) => {
          const scale = 2 ** (rng.int(20) - 10);
          const grid = (1 + rng.int(2 ** mantissa) / 2 ** mantissa) * scale;
          return grid + scale * 2 ** -(mantissa + 1) + ((i % 3) - 1) * scale * 2 ** -20;
        });
        const [ct, gt] = both(gpu, ties, [ties.length], 'f32');
        await expectExact(`f32 → ${to} on and beside ties`, cast(ct, to), cast(gt, to));
      }
    },
  },
  {
    name: 'fill of every dtype',
    async run(gpu, _rng, scope) {
      for (const [dtype, value] of [['f32', -1.25], ['f16', 3.5], ['bf16', -7], ['i8', -3], ['u8', 200], ['i32', -123456], ['u32', 4000000000], ['f32', 0]] as [DType, number][]) {
        await expectExact(`full ${dtype}`, full([3, 5], value, { dtype, backend: 'cpu' }), full([3, 5], value, { dtype, backend: gpu }));
      }
    },
  },
  {
    name: 'assign into strided views (odd sub-word offsets, overlapping source) and concat',
    async run(gpu, rng, scope) {
      for (const dtype of ['f32', 'f16', 'u8'] as DType[]) {
        const base = dtype === 'u8' ? ints(rng, 60, 0, 256) : normals(rng, 60);
        const src = dtype === 'u8' ? ints(rng, 12, 0, 256) : normals(rng, 12);
        const [cx, gx] = both(gpu, base, [3, 4, 5], dtype);
        const [cs, gs] = both(gpu, src, [3, 2, 2], dtype);
        assign(slice(cx, [0, 1, 1], [3, 3, 3]), cs);
        assign(slice(gx, [0, 1, 1], [3, 3, 3]), gs);
        await expectExact(`assign ${dtype}`, cx, gx);
        // The source overlaps the target: it must be read completely before any write.
        assign(slice(cx, [0, 0, 0], [3, 4, 4]), slice(cx, [0, 0, 1], [3, 4, 5]));
        assign(slice(gx, [0, 0, 0], [3, 4, 4]), slice(gx, [0, 0, 1], [3, 4, 5]));
        await expectExact(`overlapping assign ${dtype}`, cx, gx);
        for (const axis of [0, 1, 2]) {
          const other = dtype === 'u8' ? ints(rng, 60, 0, 256) : normals(rng, 60);
          const [co, go] = both(gpu, other, [3, 4, 5], dtype);
          await expectExact(`concat ${dtype} axis ${axis}`, concat([cx, co], axis), concat([gx, go], axis));
        }
      }
    },
  },
  {
    name: 'binary ops with broadcasting and views, float dtypes (pow with negative bases, NaN in maximum/minimum)',
    async run(gpu, rng, scope) {
      for (const dtype of scope.floats) {
        for (const op of BINARY) {
          const a = normals(rng, 24, 2);
          const b = normals(rng, 6, 2).map((v) => (op === 'pow' ? Math.round(v) : op === 'div' ? v + Math.sign(v) * 0.5 : v));
          if (op === 'maximum' || op === 'minimum') {
            a[3] = NaN;
            b[1] = NaN;
          }
          if (op === 'pow') a[0] = 0;
          const [ca, ga] = both(gpu, a, [4, 2, 3], dtype);
          const [cb, gb] = both(gpu, b, [2, 3], dtype);
          await expectClose(`${op} ${dtype} broadcast`, binary(op, ca, cb), binary(op, ga, gb));
          const ta = (t: Tensor) => transpose(t, [2, 0, 1]);
          const tb = (t: Tensor) => expandDims(transpose(t), 1);
          await expectClose(`${op} ${dtype} views`, binary(op, ta(ca), tb(cb)), binary(op, ta(ga), tb(gb)));
        }
      }
      const [cp, gp] = both(gpu, [2, -2, -2, 0.5, 4, -8, 0, 0, 1, NaN, 3], [11]);
      const [ce, ge] = both(gpu, [0.5, 3, 2.5, -1, 0.5, 1 / 3, -1, 0, NaN, 0, Infinity], [11]);
      await expectClose('pow special cases', binary('pow', cp, ce), binary('pow', gp, ge));
    },
  },
  {
    name: 'binary ops on integer dtypes wrap like the CPU typed-array stores',
    async run(gpu, rng, scope) {
      for (const [dtype, lo, hi] of [['i32', -50000, 50000], ['u32', 0, 100000], ['i8', -128, 128], ['u8', 0, 256]] as [DType, number, number][]) {
        for (const op of ['add', 'sub', 'mul', 'maximum', 'minimum'] as BinaryOp[]) {
          const [ca, ga] = both(gpu, ints(rng, 30, lo, hi), [5, 6], dtype);
          const [cb, gb] = both(gpu, ints(rng, 6, lo, hi), [6], dtype);
          await expectExact(`${op} ${dtype}`, binary(op, ca, cb), binary(op, ga, gb));
        }
      }
    },
  },
  {
    name: 'unary ops on every float dtype and the integer ones',
    async run(gpu, rng, scope) {
      for (const dtype of scope.floats) {
        for (const op of UNARY) {
          const positive = op === 'log' || op === 'sqrt' || op === 'rsqrt';
          const values = normals(rng, 48, 3).map((v) => (positive ? Math.abs(v) + 0.01 : v));
          const [c, g] = both(gpu, values, [6, 8], dtype);
          const attrs = op === 'affine' ? { alpha: -1.5, beta: 0.25 } : {};
          await expectClose(`${op} ${dtype}`, unary(op, transpose(c), attrs), unary(op, transpose(g), attrs));
        }
        const [cn, gn] = both(gpu, [NaN, -Infinity, Infinity, -0, 0, 30, -30, 100, -100], [9], dtype);
        for (const op of ['relu', 'tanh', 'sigmoid', 'silu', 'abs', 'neg'] as UnaryOp[]) await expectClose(`${op} ${dtype} specials`, unary(op, cn), unary(op, gn));
      }
      for (const dtype of ['i32', 'u32', 'i8', 'u8'] as DType[]) {
        const [lo, hi] = dtype === 'i8' ? [-128, 128] : dtype === 'u8' ? [0, 256] : dtype === 'u32' ? [0, 70000] : [-40000, 40000];
        const [c, g] = both(gpu, ints(rng, 40, lo, hi), [40], dtype);
        for (const op of ['neg', 'abs', 'square', 'relu'] as UnaryOp[]) await expectExact(`${op} ${dtype}`, unary(op, c), unary(op, g));
      }
    },
  },
  {
    name: 'reductions over axis sets, keepDims, views, NaN propagation, integer wrap and the two-pass split',
    async run(gpu, rng, scope) {
      const ops: ReduceOp[] = ['sum', 'mean', 'max', 'min'];
      for (const dtype of scope.floats) {
        const values = normals(rng, 120);
        values[17] = NaN;
        const [c, g] = both(gpu, values, [4, 5, 6], dtype);
        for (const op of ops) {
          for (const axes of [[0], [2], [0, 2], [1, 2], [0, 1, 2]]) {
            for (const keepDims of [false, true]) {
              await expectClose(`${op} ${dtype} axes ${axes} keep ${keepDims}`, reduce(op, c, { axes, keepDims }), reduce(op, g, { axes, keepDims }));
            }
          }
          await expectClose(`${op} ${dtype} transposed`, reduce(op, transpose(c), { axes: [1] }), reduce(op, transpose(g), { axes: [1] }));
        }
      }
      for (const dtype of ['i32', 'u8', 'i8'] as DType[]) {
        const [c, g] = both(gpu, ints(rng, 60, dtype === 'u8' ? 0 : -100, 100), [6, 10], dtype);
        for (const op of ['sum', 'max', 'min'] as ReduceOp[]) await expectExact(`${op} ${dtype}`, reduce(op, c, { axes: [1] }), reduce(op, g, { axes: [1] }));
      }
      const [cl, gl] = both(gpu, normals(rng, 2 * 20000), [2, 20000]);
      for (const op of ops) await expectClose(`${op} long rows (two passes)`, reduce(op, cl, { axes: [1] }), reduce(op, gl, { axes: [1] }));
      const [ce, ge] = both(gpu, [], [3, 0]);
      await expectClose('mean of an empty axis is NaN, sum 0', reduce('mean', ce, { axes: [1] }), reduce('mean', ge, { axes: [1] }));
      await expectClose('sum of an empty axis', reduce('sum', ce, { axes: [1] }), reduce('sum', ge, { axes: [1] }));
    },
  },
  {
    name: 'argmax/argmin: first index on ties, NaN wins, any axis',
    async run(gpu, rng, scope) {
      for (const dtype of ['f32', 'f16', 'i32'] as DType[]) {
        const values = dtype === 'i32' ? ints(rng, 60, -3, 3) : normals(rng, 60).map((v) => Math.round(v * 2) / 2);
        if (dtype !== 'i32') {
          values[7] = NaN;
          values[9] = NaN;
        }
        const [c, g] = both(gpu, values, [3, 4, 5], dtype);
        for (const axis of [0, 1, 2]) {
          await expectExact(`argmax ${dtype} axis ${axis}`, argmax(c, axis), argmax(g, axis));
          await expectExact(`argmin ${dtype} axis ${axis} keepDims`, argmin(c, axis, true), argmin(g, axis, true));
        }
      }
    },
  },
  {
    name: 'topk: sorted, lower index first on ties, NaN above +inf, largest and smallest',
    async run(gpu, rng, scope) {
      for (const dtype of ['f32', 'bf16', 'i32'] as DType[]) {
        const values = dtype === 'i32' ? ints(rng, 3 * 37, -5, 5) : normals(rng, 3 * 37).map((v) => Math.round(v * 2) / 2);
        if (dtype !== 'i32') Object.assign(values, { 4: NaN, 5: Infinity, 40: -Infinity, 41: NaN, 80: -0, 81: 0 });
        const [c, g] = both(gpu, values, [3, 37], dtype);
        for (const k of [0, 1, 5, 37]) {
          for (const largest of [true, false]) {
            const cr = topk(c, k, { largest });
            const gr = topk(g, k, { largest });
            await expectExact(`topk ${dtype} k ${k} largest ${largest} values`, cr.values, gr.values);
            await expectExact(`topk ${dtype} k ${k} largest ${largest} indices`, cr.indices, gr.indices);
          }
        }
        const cv = topk(transpose(c), 2);
        const gv = topk(transpose(g), 2);
        await expectExact(`topk ${dtype} of a transposed view`, cv.indices, gv.indices);
      }
    },
  },
  {
    name: 'softmax and logSoftmax along any axis (a −∞ row gives NaN, as on the CPU)',
    async run(gpu, rng, scope) {
      for (const dtype of scope.floats) {
        const values = normals(rng, 3 * 4 * 70, 3);
        for (let j = 0; j < 70; j++) values[j] = -Infinity; // row 0 of axis 2
        values[75] = NaN; // row 1 of axis 2
        const [c, g] = both(gpu, values, [3, 4, 70], dtype);
        for (const axis of [0, 1, 2]) {
          await expectClose(`softmax ${dtype} axis ${axis}`, softmax(c, axis), softmax(g, axis));
          await expectClose(`logSoftmax ${dtype} axis ${axis}`, logSoftmax(c, axis), logSoftmax(g, axis));
        }
        await expectClose(`softmax ${dtype} of a view`, softmax(transpose(c), 2), softmax(transpose(g), 2));
      }
    },
  },
  {
    name: 'rmsNorm and layerNorm (with and without bias, strided inputs and weights)',
    async run(gpu, rng, scope) {
      for (const dtype of scope.floats) {
        const [c, g] = both(gpu, normals(rng, 5 * 300, 2), [5, 300], dtype);
        const [cw, gw] = both(gpu, normals(rng, 600), [600], dtype);
        const [cb, gb] = both(gpu, normals(rng, 300), [300], dtype);
        const w = (t: Tensor) => slice(t, [100], [400]);
        await expectClose(`rmsNorm ${dtype}`, rmsNorm(c, w(cw), 1e-5), rmsNorm(g, w(gw), 1e-5));
        await expectClose(`layerNorm ${dtype}`, layerNorm(c, w(cw), cb), layerNorm(g, w(gw), gb));
        await expectClose(`layerNorm ${dtype} without bias`, layerNorm(c, w(cw)), layerNorm(g, w(gw)));
        const [cs, gs] = both(gpu, normals(rng, 300 * 5), [300, 5], dtype);
        await expectClose(`rmsNorm ${dtype} of a transposed view`, rmsNorm(transpose(cs), w(cw)), rmsNorm(transpose(gs), w(gw)));
      }
    },
  },
  {
    name: 'matmul: tiled 64 and 128, exact and edge tiles, every transpose layout, gemv paths, batch broadcast, f16/bf16',
    async run(gpu, rng, scope) {
      const cases: { a: number[]; b: number[]; ta?: boolean; tb?: boolean; dtype?: DType; label: string; full?: boolean }[] = [
        { a: [37, 29], b: [29, 45], label: 'edge tiles' },
        { a: [64, 32], b: [32, 64], label: 'exact 64-tiles', full: true },
        { a: [29, 37], b: [45, 29], ta: true, tb: true, label: 'both transposed' },
        { a: [40, 36], b: [52, 36], tb: true, label: 'transposeB (vec along k)' },
        { a: [36, 40], b: [36, 52], ta: true, label: 'transposeA (vec along rows)' },
        { a: [96, 128, 8], b: [96, 8, 128], label: 'exact 128-tiles (many batches)', full: true },
        { a: [1, 70], b: [70, 33], label: 'gemv m=1' },
        { a: [3, 70], b: [33, 70], tb: true, label: 'gemv dot m=3' },
        { a: [50, 20], b: [20, 3], label: 'n ≤ 4 via the transposed product' },
        { a: [2, 1, 9, 16], b: [3, 16, 11], label: 'batch broadcast', full: true },
        { a: [21, 19], b: [19, 23], dtype: 'f16', label: 'f16' },
        { a: [2, 21], b: [21, 23], dtype: 'bf16', label: 'bf16 gemv' },
      ];
      for (const { a, b, ta = false, tb = false, dtype = 'f32', label } of cases.filter((c) => scope.full || !c.full)) {
        const [ca, ga] = both(gpu, normals(rng, a.reduce((x, y) => x * y)), a, dtype);
        const [cb, gb] = both(gpu, normals(rng, b.reduce((x, y) => x * y)), b, dtype);
        await expectClose(`matmul ${label}`, matmul(ca, cb, { transposeA: ta, transposeB: tb }), matmul(ga, gb, { transposeA: ta, transposeB: tb }));
      }
      // f32 activations beside half-precision weights (widened on the device first), both sides.
      for (const dtype of ['f16', 'bf16'] as const) {
        const [cx, gx] = both(gpu, normals(rng, 3 * 40), [3, 40]);
        const [cw, gw] = both(gpu, normals(rng, 33 * 40), [33, 40], dtype);
        await expectClose(`matmul f32 · ${dtype}ᵀ`, matmul(cx, cw, { transposeB: true }), matmul(gx, gw, { transposeB: true }));
        await expectClose(`matmul ${dtype} · f32ᵀ`, matmul(cw, cx, { transposeB: true }), matmul(gw, gx, { transposeB: true }));
      }
      // Views with odd offsets and strides (scalar loads), and a k = 0 product.
      const [cx, gx] = both(gpu, normals(rng, 30 * 41), [30, 41]);
      const view = (t: Tensor) => slice(t, [1, 3], [30, 40]);
      await expectClose('matmul of sliced views', matmul(view(cx), view(cx), { transposeB: true }), matmul(view(gx), view(gx), { transposeB: true }));
      const [c0, g0] = both(gpu, [], [5, 0]);
      const [d0, h0] = both(gpu, [], [0, 6]);
      await expectExact('matmul with k = 0', matmul(c0, d0), matmul(g0, h0));
    },
  },
  {
    name: 'causalConv1d: one row or many, 2–4 taps, with and without a bias, every float dtype, views (a sliced window, a reshaped or transposed weight)',
    async run(gpu, rng, scope) {
      for (const dtype of scope.floats) {
        for (const [n, channels, taps] of [[1, 33, 3], [7, 40, 4], [5, 9, 2]]) {
          const rows = n + taps - 1;
          const [cx, gx] = both(gpu, normals(rng, rows * channels), [rows, channels], dtype);
          const [cw, gw] = both(gpu, normals(rng, channels * taps), [channels, taps], dtype);
          const [cb, gb] = both(gpu, normals(rng, channels), [channels], dtype);
          await expectClose(`causalConv1d ${dtype} [${n}, ${channels}, ${taps}]`, causalConv1d(cx, cw), causalConv1d(gx, gw));
          await expectClose(`causalConv1d ${dtype} [${n}, ${channels}, ${taps}] + bias`, causalConv1d(cx, cw, cb), causalConv1d(gx, gw, gb));
        }
      }
      const [cx, gx] = both(gpu, normals(rng, 12 * 21), [12, 21]);
      const [cw, gw] = both(gpu, normals(rng, 17 * 3), [17, 1, 3]);
      const [ct, gt] = both(gpu, normals(rng, 3 * 17), [3, 17]);
      const window = (t: Tensor) => slice(t, [2, 3], [11, 20]);
      const reshaped = (t: Tensor) => squeeze(t, [1]);
      const transposed = (t: Tensor) => transpose(t, [1, 0]);
      await expectClose('causalConv1d of a sliced window and a Conv1d weight', causalConv1d(window(cx), reshaped(cw)), causalConv1d(window(gx), reshaped(gw)));
      await expectClose('causalConv1d with a transposed weight', causalConv1d(window(cx), transposed(ct)), causalConv1d(window(gx), transposed(gt)));
    },
  },
  {
    name: 'gatedDeltaRule: one row or many, grouped keys, head sizes off the workgroup, every float dtype, a row-sliced view; the state continues',
    async run(gpu, rng, scope) {
      const rule = async (label: string, [n, keyHeads, heads, dk, dv]: number[], dtype: DType) => {
        const [cq, gq] = both(gpu, normals(rng, n * keyHeads * dk, dk ** -0.5), [n, keyHeads, dk], dtype);
        const [ck, gk] = both(gpu, normals(rng, n * keyHeads * dk, dk ** -0.5), [n, keyHeads, dk], dtype);
        const [cv, gv] = both(gpu, normals(rng, n * heads * dv), [n, heads, dv], dtype);
        const [cg, gg] = both(gpu, normals(rng, n * heads).map((v) => -0.02 - 0.3 * Math.abs(v)), [n, heads]);
        const [cb, gb] = both(gpu, normals(rng, n * heads).map((v) => 1 / (1 + Math.exp(-v))), [n, heads], dtype);
        const [cs, gs] = both(gpu, normals(rng, heads * dk * dv), [heads, dk, dv]);
        const want = gatedDeltaRule(cq, ck, cv, cg, cb, cs);
        const got = gatedDeltaRule(gq, gk, gv, gg, gb, gs);
        await expectClose(`gatedDeltaRule ${label} output`, want.output, got.output);
        await expectClose(`gatedDeltaRule ${label} state`, want.state, got.state);
        // The next row from the state each backend left.
        const rows = (t: Tensor) => slice(t, [n - 1], [n]);
        const [w2, g2] = [gatedDeltaRule(rows(cq), rows(ck), rows(cv), rows(cg), rows(cb), want.state), gatedDeltaRule(rows(gq), rows(gk), rows(gv), rows(gg), rows(gb), got.state)];
        await expectClose(`gatedDeltaRule ${label} continued`, w2.output, g2.output);
      };
      for (const dtype of scope.floats) {
        for (const shape of [[1, 2, 4, 16, 16], [7, 1, 3, 9, 70], [4, 2, 2, 1, 1]]) await rule(`${dtype} [${shape}]`, shape, dtype);
      }
    },
  },
  {
    name: 'selectiveScan: one row or many, grouped B and C, dState off the lane count, rates per head or per state entry (Mamba-1), every float dtype, a row-sliced view; the state continues',
    async run(gpu, rng, scope) {
      const scan = async (label: string, [n, heads, headDim, groups, dState, perState = 0]: number[], dtype: DType) => {
        const [cx, gx] = both(gpu, normals(rng, n * heads * headDim), [n, heads, headDim], dtype);
        const [cdt, gdt] = both(gpu, normals(rng, n * heads).map((v) => 0.05 + Math.abs(v)), [n, heads], dtype);
        const rates = perState ? [heads, dState] : [heads];
        const [ca, ga] = both(gpu, normals(rng, heads * (perState ? dState : 1)).map((v) => -0.1 - Math.abs(v)), rates);
        const [cb, gb] = both(gpu, normals(rng, n * groups * dState), [n, groups, dState], dtype);
        const [cc, gc] = both(gpu, normals(rng, n * groups * dState), [n, groups, dState], dtype);
        const [cs, gs] = both(gpu, normals(rng, heads * headDim * dState), [heads, headDim, dState]);
        const want = selectiveScan(cx, cdt, ca, cb, cc, cs);
        const got = selectiveScan(gx, gdt, ga, gb, gc, gs);
        await expectClose(`selectiveScan ${label} y`, want.y, got.y);
        await expectClose(`selectiveScan ${label} state`, want.state, got.state);
        // The next row from the state each backend left.
        const rows = (t: Tensor) => slice(t, [n - 1], [n]);
        const [w2, g2] = [selectiveScan(rows(cx), rows(cdt), ca, rows(cb), rows(cc), want.state), selectiveScan(rows(gx), rows(gdt), ga, rows(gb), rows(gc), got.state)];
        await expectClose(`selectiveScan ${label} continued`, w2.y, g2.y);
      };
      for (const dtype of scope.floats) {
        for (const shape of [[1, 4, 3, 1, 16], [7, 6, 5, 3, 130], [4, 2, 2, 2, 1], [5, 24, 1, 1, 16, 1], [3, 4, 3, 2, 70, 1]]) await scan(`${dtype} [${shape}]`, shape, dtype);
      }
    },
  },
  {
    name: 'indexedMatmul: rows = 1, rows > count, unused matrices, edge tiles, k past one x chunk, views, u32 indices, f32 · half stacks',
    async run(gpu, rng, scope) {
      // [rows, count, n, k]: k = 37 and n = 29 cut every tile; k = 300 takes two x chunks of 256.
      const shapes = [[1, 4, 29, 37], [7, 3, 29, 37], [5, 8, 96, 200], [3, 2, 13, 300]];
      const product = (label: string, [rows, count, n, k]: number[], dtype: DType, stackDType: DType = dtype, indexDType: DType = 'i32') => {
        const [cx, gx] = both(gpu, normals(rng, rows * k), [rows, k], dtype);
        const [cw, gw] = both(gpu, normals(rng, count * n * k), [count, n, k], stackDType);
        const [ci, gi] = both(gpu, ints(rng, rows, 0, count), [rows], indexDType);
        return expectClose(`indexedMatmul ${label}`, indexedMatmul(cx, cw, ci), indexedMatmul(gx, gw, gi));
      };
      for (const dtype of scope.floats) {
        for (const shape of shapes) await product(`${dtype} [${shape}]`, shape, dtype);
      }
      await product('u32 indices', [6, 5, 29, 37], 'f32', 'f32', 'u32');
      for (const half of ['f16', 'bf16'] as const) await product(`f32 · ${half} stack`, [4, 3, 29, 40], 'f32', half);
      // Views: x a slice (offset, row stride), stacks sliced from a larger one or transposed (k not
      // contiguous), indices every other entry of a buffer (offset, stride 2).
      const [cx, gx] = both(gpu, normals(rng, 9 * 41), [9, 41]);
      const [cw, gw] = both(gpu, normals(rng, 5 * 31 * 40), [5, 31, 40]);
      const [ct, gt] = both(gpu, normals(rng, 4 * 37 * 29), [4, 37, 29]);
      const [ci, gi] = both(gpu, [7, 2, 7, 0, 7, 3, 7, 2], [4, 2], 'i32');
      const xs = (t: Tensor) => slice(t, [2, 1], [6, 38]);
      const ws = (t: Tensor) => slice(t, [1, 2, 3], [5, 31, 40]);
      const wt = (t: Tensor) => transpose(t, [0, 2, 1]);
      const is = (t: Tensor) => squeeze(slice(t, [0, 1], [4, 2]), [1]);
      await expectClose('indexedMatmul of sliced views', indexedMatmul(xs(cx), ws(cw), is(ci)), indexedMatmul(xs(gx), ws(gw), is(gi)));
      await expectClose('indexedMatmul of a transposed stack', indexedMatmul(xs(cx), wt(ct), is(ci)), indexedMatmul(xs(gx), wt(gt), is(gi)));
      // An index outside the stack (checked on the CPU only) reads nothing and gives a row of zeros.
      const [cv, gv] = both(gpu, normals(rng, 3 * 37), [3, 37]);
      const [cs, gs] = both(gpu, normals(rng, 2 * 29 * 37), [2, 29, 37]);
      const bad = await indexedMatmul(gv, gs, tensor([1, 2, -1], [3], { dtype: 'i32', backend: gpu })).readFloat32();
      const good = await indexedMatmul(cv, cs, tensor([1, 0, 0], [3], { dtype: 'i32' })).readFloat32();
      assertClose(bad.subarray(0, 29), good.subarray(0, 29), TOLERANCE.f32, 'indexedMatmul row with a valid index');
      if (bad.subarray(29).some((v) => v !== 0)) fail('indexedMatmul', 'rows with an index outside the stack must be zeros');
    },
  },
  {
    name: 'rope: half and interleaved layouts, partial rotary, large positions, views',
    async run(gpu, rng, scope) {
      for (const dtype of scope.floats) {
        for (const layout of ['half', 'interleaved'] as const) {
          const [c, g] = both(gpu, normals(rng, 2 * 3 * 7 * 16), [2, 3, 7, 16], dtype);
          const positions = Int32Array.from({ length: 7 }, () => rng.int(60000));
          const [cp, gp] = both(gpu, positions, [7], 'i32');
          for (const rotary of [16, 8]) {
            const freq = ropeInverseFrequencies(rotary, 10000);
            const [cf, gf] = both(gpu, freq, [freq.length], 'f32');
            await expectClose(`rope ${layout} ${dtype} rotary ${rotary}`, rope(c, cp, cf, layout), rope(g, gp, gf, layout));
          }
          const freq = ropeInverseFrequencies(16, 500000);
          const [cf, gf] = both(gpu, freq, [8], 'f32');
          await expectClose(`rope ${layout} ${dtype} of a view`, rope(transpose(c, [1, 0, 2, 3]), cp, cf, layout), rope(transpose(g, [1, 0, 2, 3]), gp, gf, layout));
        }
      }
    },
  },
  {
    name: 'gather and scatter (replace keeps the last duplicate, add sums them) on any axis',
    async run(gpu, rng, scope) {
      for (const dtype of ['f32', 'f16', 'u8', 'i32'] as DType[]) {
        const data = (n: number) => (dtype === 'u8' ? ints(rng, n, 0, 100) : dtype === 'i32' ? ints(rng, n, -1000, 1000) : normals(rng, n));
        const [c, g] = both(gpu, data(60), [3, 4, 5], dtype);
        for (const axis of [0, 1, 2]) {
          const length = [3, 4, 5][axis];
          const idx = ints(rng, 6, 0, length);
          const [ci, gi] = both(gpu, idx, [6], axis === 1 ? 'u32' : 'i32');
          await expectExact(`gather ${dtype} axis ${axis}`, gather(c, ci, axis), gather(g, gi, axis));
          const shape = [3, 4, 5].map((d, i) => (i === axis ? 6 : d));
          const [cu, gu] = both(gpu, data(shape.reduce((x, y) => x * y)), shape, dtype);
          await expectExact(`scatter replace ${dtype} axis ${axis}`, scatter(c, ci, cu, axis), scatter(g, gi, gu, axis));
          const add = dtype === 'u8' ? expectExact : expectClose;
          await add(`scatter add ${dtype} axis ${axis}`, scatter(c, ci, cu, axis, 'add'), scatter(g, gi, gu, axis, 'add'));
        }
        const [ci, gi] = both(gpu, [2, 0, 2], [3], 'i32');
        await expectExact(`gather ${dtype} from a view`, gather(transpose(c), ci, 1), gather(transpose(g), gi, 1));
      }
    },
  },
  {
    name: 'packBits/unpackBits in the shared layout: every width, group sizes, strided words',
    async run(gpu, rng, scope) {
      for (const bits of [1, 2, 3, 4, 8]) {
        for (const groupSize of [33, 10, 70]) {
          for (const dtype of ['u8', 'u32'] as DType[]) {
            const [c, g] = both(gpu, ints(rng, 3 * 70, 0, 2 ** bits), [3, 70], dtype);
            const cw = packBits(c, bits, { groupSize });
            const gw = packBits(g, bits, { groupSize });
            await expectExact(`packBits ${bits}-bit group ${groupSize} ${dtype}`, cw, gw);
            await expectExact(`unpackBits ${bits}-bit group ${groupSize}`, unpackBits(cw, bits, 70, { groupSize }), unpackBits(gw, bits, 70, { groupSize }));
          }
        }
        const [c, g] = both(gpu, ints(rng, 4 * 64, 0, 2 ** bits), [4, 64], 'u8');
        // Words stored transposed ([W, 4]) and read through a [4, W] view.
        const words = (t: Tensor) => transpose(contiguous(transpose(packBits(t, bits))));
        await expectExact(`unpackBits ${bits}-bit of a transposed view`, unpackBits(words(c), bits, 64), unpackBits(words(g), bits, 64));
      }
    },
  },
  {
    name: 'attention: grouped heads, causal, window, soft-cap, gapped positions, statistics, log-sum-exp, strided K/V, f16',
    async run(gpu, rng, scope) {
      const settings = [
        { qHeads: 4, kvHeads: 2, m: 5, n: 9, d: 8, dv: 8, options: {} },
        { qHeads: 6, kvHeads: 3, m: 3, n: 150, d: 16, dv: 12, options: { window: 40, softcap: 5, statistics: true, returnLse: true } },
        { qHeads: 2, kvHeads: 1, m: 4, n: 6, d: 4, dv: 600, options: { causal: false, scale: 0.3, returnLse: true } },
        { qHeads: 2, kvHeads: 2, m: 3, n: 5, d: 8, dv: 8, options: { statistics: true }, positions: true },
      ];
      for (const dtype of ['f32', 'f16'] as DType[]) {
        for (const { qHeads, kvHeads, m, n, d, dv, options, positions } of settings) {
          const [cq, gq] = both(gpu, normals(rng, qHeads * m * d), [qHeads, m, d], dtype);
          // K/V as slices of a larger cache buffer (what the dense KV cache passes).
          const [ck, gk] = both(gpu, normals(rng, kvHeads * (n + 3) * d), [kvHeads, n + 3, d], dtype);
          const [cv, gv] = both(gpu, normals(rng, kvHeads * (n + 3) * dv), [kvHeads, n + 3, dv], dtype);
          const kv = (t: Tensor, width: number) => slice(t, [0, 0, 0], [kvHeads, n, width]);
          const extra: Record<string, Tensor> = {};
          const gpuExtra: Record<string, Tensor> = {};
          if (positions) {
            // Evicted keys leave gaps; query 0 sees no key at all (its output must be zeros).
            const [cqp, gqp] = both(gpu, [1, 20, 35], [3], 'i32');
            const [ckp, gkp] = both(gpu, [3, 8, 19, 30, 34], [5], 'i32');
            Object.assign(extra, { queryPositions: cqp, keyPositions: ckp });
            Object.assign(gpuExtra, { queryPositions: gqp, keyPositions: gkp });
          }
          const expected = attention(cq, kv(ck, d), kv(cv, dv), { ...options, ...extra });
          const actual = attention(gq, kv(gk, d), kv(gv, dv), { ...options, ...gpuExtra });
          const label = `attention ${dtype} H${qHeads}/${kvHeads} m${m} n${n} ${JSON.stringify(options)}`;
          await expectClose(`${label} output`, expected.output, actual.output);
          if (expected.statistics) {
            if (!actual.statistics) fail(label, 'statistics missing');
            await expectClose(`${label} keySum`, expected.statistics.keySum, actual.statistics.keySum, 1e-5);
            await expectClose(`${label} keyMax`, expected.statistics.keyMax, actual.statistics.keyMax, 1e-5);
          }
          if (expected.lse) {
            if (!actual.lse) fail(label, 'lse missing');
            await expectClose(`${label} lse`, expected.lse, actual.lse, 1e-5);
          }
        }
      }
    },
  },
  {
    name: 'the dense KV cache runs on webgpu (assign into views) and matches the CPU cache',
    async run(gpu, rng, scope) {
      const spec = { numLayers: 1, qHeads: 4, kvHeads: 2, headDim: 8, maxPositions: 256, rope: { invFreq: ropeInverseFrequencies(8, 10000), layout: 'half' as const } };
      const cpuCache = createCache({ ...spec, backend: getBackend('cpu') }, denseCache({ dtype: 'f16', initialCapacity: 4 }));
      const gpuCache = createCache({ ...spec, backend: gpu }, denseCache({ dtype: 'f16', initialCapacity: 4 }));
      let t = 0;
      for (const n of [5, 1, 1, 3, 1]) {
        const positions = Int32Array.from({ length: n }, (_, i) => t + i);
        const [ck, gk] = both(gpu, normals(rng, 2 * n * 8), [2, n, 8]);
        const [cv, gv] = both(gpu, normals(rng, 2 * n * 8), [2, n, 8]);
        cpuCache.layers[0].append(ck, cv, { positions, phase: t === 0 ? 'prefill' : 'decode' });
        gpuCache.layers[0].append(gk, gv, { positions, phase: t === 0 ? 'prefill' : 'decode' });
        t += n;
        const [cq, gq] = both(gpu, normals(rng, 4 * n * 8), [4, n, 8]);
        const expected = cpuCache.layers[0].attend(cq, { positions, statistics: true });
        const actual = gpuCache.layers[0].attend(gq, { positions, statistics: true });
        await expectClose(`cache step ${t} output`, expected.output, actual.output, 1e-5);
        if (!expected.statistics || !actual.statistics) fail('cache', 'statistics missing');
        await expectClose(`cache step ${t} keySum`, expected.statistics.keySum, actual.statistics.keySum, 1e-5);
      }
      if (gpuCache.memory().bytes !== cpuCache.memory().bytes) fail('cache memory', `${gpuCache.memory().bytes} vs ${cpuCache.memory().bytes}`);
    },
  },
];

export interface ParityResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

/** Runs every case (case i seeded with seed + i) and collects the outcomes instead of stopping at the first failure. */
export async function runParityCases(gpu: Backend, seed: number, scope: ParityScope): Promise<ParityResult[]> {
  const results: ParityResult[] = [];
  for (const [i, testCase] of PARITY_CASES.entries()) {
    const started = performance.now();
    try {
      await testCase.run(gpu, createRng((seed + i) >>> 0), scope);
      results.push({ name: testCase.name, ok: true, ms: performance.now() - started });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      results.push({ name: testCase.name, ok: false, ms: performance.now() - started, error: `${message} [seed ${(seed + i) >>> 0}]` });
    }
  }
  return results;
}

/** Kernels the cases above exercise (the suite checks this covers every kernel registered for webgpu). */
export const COVERED_KERNELS = [
  'contiguous', 'cast', 'concat', 'assign', 'fill', 'binary', 'unary', 'reduce', 'argReduce', 'topk', 'softmax', 'rmsNorm',
  'layerNorm', 'matmul', 'indexedMatmul', 'rope', 'causalConv1d', 'selectiveScan', 'gatedDeltaRule', 'gather', 'scatter', 'packBits', 'unpackBits', 'attention',
];
