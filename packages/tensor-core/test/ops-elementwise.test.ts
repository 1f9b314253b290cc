import { describe, expect, it } from 'vitest';
import {
  abs, add, affine, binary, div, exp, gelu, geluTanh, log, maximum, minimum, mul, neg, pow, reciprocal, relu, rsqrt,
  sigmoid, silu, slice, sqrt, square, sub, tanh, tensor, transpose, unary,
} from '../src/index.js';
import type { BinaryOp, UnaryOp } from '../src/index.js';
import { assertClose, withSeed } from '../src/testing/index.js';
import { f32Values, randomArray } from './reference.js';

const erfRef = (x: number): number => {
  // Independent: Simpson integration of 2/√π e^{-t²} on [0, x] with many panels.
  const steps = 2000;
  const h = x / steps;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < steps; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((s * h) / 3) * (2 / Math.sqrt(Math.PI));
};

const UNARY_REF: Record<Exclude<UnaryOp, 'affine'>, (x: number) => number> = {
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  tanh: (x) => Math.tanh(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  silu: (x) => x / (1 + Math.exp(-x)),
  gelu: (x) => 0.5 * x * (1 + erfRef(x / Math.SQRT2)),
  geluTanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  relu: (x) => Math.max(0, x),
};

const BINARY_REF: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: (a, b) => Math.max(a, b),
  minimum: (a, b) => Math.min(a, b),
  pow: (a, b) => a ** b,
};

describe('unary ops', () => {
  for (const [op, ref] of Object.entries(UNARY_REF) as [Exclude<UnaryOp, 'affine'>, (x: number) => number][]) {
    it(`${op} matches its float64 formula (f32, f16, bf16)`, () =>
      withSeed((rng) => {
        const positive = ['log', 'sqrt', 'rsqrt'].includes(op);
        const raw = randomArray(rng, 257, 2).map((x) => (positive ? Math.abs(x) + 0.01 : x));
        for (const [dtype, tol] of [['f32', 1e-6], ['f16', 2e-3], ['bf16', 1.6e-2]] as const) {
          const x = tensor(raw, [257], { dtype });
          const input = x.readFloat32Sync();
          const expected = Array.from(input, ref);
          assertClose(unary(op, x).readFloat32Sync(), expected, tol, `${op} ${dtype}`);
        }
      }));
  }

  it('affine computes alpha·x + beta; integer neg/abs/relu/square stay integer', () => {
    const x = tensor([1, -2, 3.5], [3]);
    expect(Array.from(affine(x, 2, 1).readSync())).toEqual([3, -3, 8]);
    const xi = tensor([-3, 4, -5], [3], { dtype: 'i32' });
    expect(Array.from(neg(xi).readSync())).toEqual([3, -4, 5]);
    expect(Array.from(abs(xi).readSync())).toEqual([3, 4, 5]);
    expect(Array.from(relu(xi).readSync())).toEqual([0, 4, 0]);
    expect(Array.from(square(xi).readSync())).toEqual([9, 16, 25]);
    expect(neg(xi).dtype).toBe('i32');
  });

  it('propagates NaN and handles huge/tiny values', () => {
    const x = tensor([NaN, 1e30, -1e30, 1e-30, 0], [5]);
    const s = sigmoid(x).readSync();
    expect(Number.isNaN(s[0])).toBe(true);
    expect(Array.from(s.slice(1))).toEqual([1, 0, 0.5, 0.5]);
    expect(Number.isNaN(silu(x).readSync()[0])).toBe(true);
    expect(Number.isNaN(relu(x).readSync()[0])).toBe(true);
    expect(exp(tensor([1000], [1])).readSync()[0]).toBe(Infinity);
    expect(log(tensor([0], [1])).readSync()[0]).toBe(-Infinity);
    expect(Array.from(tanh(tensor([1e30, -1e30], [2])).readSync())).toEqual([1, -1]);
    expect(Array.from(gelu(tensor([-40, 40], [2])).readSync())).toEqual([-0, 40]);
    expect(Array.from(geluTanh(tensor([40], [1])).readSync())).toEqual([40]);
    expect(Array.from(sqrt(tensor([4], [1])).readSync())).toEqual([2]);
    expect(Array.from(rsqrt(tensor([4], [1])).readSync())).toEqual([0.5]);
    expect(Array.from(reciprocal(tensor([4], [1])).readSync())).toEqual([0.25]);
  });

  it('refuses float-only ops on integer tensors', () => {
    expect(() => exp(tensor([1], [1], { dtype: 'i32' }))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
  });
});

describe('binary ops with broadcasting', () => {
  const cases: [number[], number[]][] = [
    [[4, 5], [4, 5]],
    [[4, 5], [5]],
    [[4, 1], [1, 5]],
    [[2, 3, 4], [3, 1]],
    [[], [3, 2]],
    [[1], [1]],
    [[0, 3], [3]],
  ];
  for (const [op, ref] of Object.entries(BINARY_REF) as [BinaryOp, (a: number, b: number) => number][]) {
    it(`${op} matches NumPy broadcasting semantics`, () =>
      withSeed((rng) => {
        for (const [sa, sb] of cases) {
          const na = sa.reduce((p, d) => p * d, 1);
          const nb = sb.reduce((p, d) => p * d, 1);
          const av = f32Values(randomArray(rng, na).map((x) => (op === 'pow' ? Math.abs(x) + 0.1 : x)));
          const bv = f32Values(randomArray(rng, nb).map((x) => (op === 'div' ? x + Math.sign(x) * 0.5 : x)));
          const out = binary(op, tensor(av, sa), tensor(bv, sb));
          const shape = out.shape;
          const expected: number[] = [];
          const size = shape.reduce((p, d) => p * d, 1);
          for (let flat = 0; flat < size; flat++) {
            // Unravel against the output shape, then re-ravel against each (broadcast) operand.
            let rem = flat;
            const idx = shape.map(() => 0);
            for (let ax = shape.length - 1; ax >= 0; ax--) {
              idx[ax] = rem % shape[ax];
              rem = Math.floor(rem / shape[ax]);
            }
            const at = (s: number[]) => s.reduce((off, d, i) => off * d + (d === 1 ? 0 : idx[idx.length - s.length + i]), 0);
            expected.push(ref(av[at(sa)], bv[at(sb)]));
          }
          assertClose(out.readSync(), expected, 1e-6, `${op} ${JSON.stringify(sa)}×${JSON.stringify(sb)}`);
        }
      }));
  }

  it('accepts plain numbers, integer arithmetic wraps like the GPU', () => {
    expect(Array.from(add(tensor([1, 2], [2]), 3).readSync())).toEqual([4, 5]);
    expect(Array.from(mul(tensor([2147483647], [1], { dtype: 'i32' }), 2).readSync())).toEqual([-2]);
    expect(Array.from(sub(tensor([5], [1], { dtype: 'i32' }), 7).readSync())).toEqual([-2]);
    expect(() => div(tensor([1], [1], { dtype: 'i32' }), 2)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    expect(() => pow(tensor([1], [1], { dtype: 'i32' }), 2)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
  });

  it('propagates NaN through maximum/minimum', () => {
    expect(Number.isNaN(maximum(tensor([NaN], [1]), tensor([1], [1])).readSync()[0])).toBe(true);
    expect(Number.isNaN(minimum(tensor([1], [1]), tensor([NaN], [1])).readSync()[0])).toBe(true);
  });

  it('reads non-contiguous views (transposes, slices) correctly', () =>
    withSeed((rng) => {
      const av = f32Values(randomArray(rng, 24));
      const a = tensor(av, [4, 6]);
      const t = transpose(a); // [6, 4]
      const s = slice(a, [1, 2], [3, 5]); // rows 1..2, cols 2..4
      const tPlus = add(t, 1).readSync();
      for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) expect(tPlus[i * 4 + j]).toBeCloseTo(av[j * 6 + i] + 1, 6);
      const sDouble = mul(s, 2).readSync();
      expect(Array.from(sDouble)).toEqual([av[8], av[9], av[10], av[14], av[15], av[16]].map((x) => Math.fround(2 * x)));
    }));

  it('rejects shapes that do not broadcast and mixed dtypes', () => {
    expect(() => add(tensor([1, 2, 3], [3]), tensor([1, 2], [2]))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() => add(tensor([1], [1]), tensor([1], [1], { dtype: 'f16' }))).toThrow(expect.objectContaining({ code: 'DTYPE_MISMATCH' }));
  });
});
