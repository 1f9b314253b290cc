import { afterEach, describe, expect, it } from 'vitest';
import { DTypeMismatchError, gatedDeltaRule, setSimdKernels, ShapeMismatchError, slice, tensor, UnsupportedDTypeError } from '../src/index.js';
import { assertClose, withSeed } from '../src/testing/index.js';
import { f32Values, randomArray } from './reference.js';

interface Shape {
  n: number;
  keyHeads: number;
  heads: number;
  dk: number;
  dv: number;
}

/** The gated delta rule straight from its definition, in float64: decay, the delta correction, the rank-one update, the read. */
function deltaRuleRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, g: ArrayLike<number>, beta: ArrayLike<number>, state0: ArrayLike<number>, s: Shape) {
  const { n, keyHeads, heads, dk, dv } = s;
  const state = Float64Array.from(state0);
  const out = new Float64Array(n * heads * dv);
  for (let t = 0; t < n; t++)
    for (let h = 0; h < heads; h++) {
      const kh = Math.floor(h / (heads / keyHeads));
      const at = (i: number, j: number) => h * dk * dv + i * dv + j;
      const key = (i: number) => k[(t * keyHeads + kh) * dk + i];
      for (let i = 0; i < dk; i++) for (let j = 0; j < dv; j++) state[at(i, j)] *= Math.exp(g[t * heads + h]);
      for (let j = 0; j < dv; j++) {
        let recalled = 0;
        for (let i = 0; i < dk; i++) recalled += state[at(i, j)] * key(i);
        const delta = beta[t * heads + h] * (v[(t * heads + h) * dv + j] - recalled);
        for (let i = 0; i < dk; i++) state[at(i, j)] += key(i) * delta;
        let read = 0;
        for (let i = 0; i < dk; i++) read += state[at(i, j)] * q[(t * keyHeads + kh) * dk + i];
        out[(t * heads + h) * dv + j] = read;
      }
    }
  return { out, state };
}

/** Random inputs as a Gated DeltaNet layer makes them: unit-norm keys, log decays below 0, β in (0, 1). */
function inputs(rng: Parameters<Parameters<typeof withSeed>[0]>[0], { n, keyHeads, heads, dk, dv }: Shape) {
  const unitRows = (rows: number) => {
    const values = randomArray(rng, rows * dk);
    for (let r = 0; r < rows; r++) {
      const norm = Math.hypot(...values.subarray(r * dk, (r + 1) * dk));
      for (let i = 0; i < dk; i++) values[r * dk + i] /= norm;
    }
    return f32Values(values);
  };
  return {
    q: unitRows(n * keyHeads),
    k: unitRows(n * keyHeads),
    v: f32Values(randomArray(rng, n * heads * dv)),
    g: f32Values(Array.from({ length: n * heads }, () => -0.02 - 0.5 * rng.uniform())),
    beta: f32Values(Array.from({ length: n * heads }, () => 0.05 + 0.9 * rng.uniform())),
    state: f32Values(randomArray(rng, heads * dk * dv)),
  };
}

const run = (x: ReturnType<typeof inputs>, { n, keyHeads, heads, dk, dv }: Shape, dtype: 'f32' | 'f16' | 'bf16' = 'f32') =>
  gatedDeltaRule(
    tensor(x.q, [n, keyHeads, dk], { dtype }), tensor(x.k, [n, keyHeads, dk], { dtype }), tensor(x.v, [n, heads, dv], { dtype }),
    tensor(x.g, [n, heads]), tensor(x.beta, [n, heads], { dtype }), tensor(x.state, [heads, dk, dv]),
  );

afterEach(() => setSimdKernels(true));

describe('gatedDeltaRule', () => {
  it('matches the float64 definition: one row or many, grouped keys, state in and out', () =>
    withSeed((rng) => {
      for (const shape of [
        { n: 1, keyHeads: 2, heads: 4, dk: 8, dv: 6 },
        { n: 9, keyHeads: 2, heads: 2, dk: 5, dv: 7 },
        { n: 6, keyHeads: 1, heads: 3, dk: 16, dv: 16 },
        { n: 3, keyHeads: 2, heads: 6, dk: 1, dv: 1 },
      ]) {
        const x = inputs(rng, shape);
        const got = run(x, shape);
        const want = deltaRuleRef(x.q, x.k, x.v, x.g, x.beta, x.state, shape);
        expect([got.output.shape, got.state.shape, got.state.dtype]).toEqual([[shape.n, shape.heads, shape.dv], [shape.heads, shape.dk, shape.dv], 'f32']);
        assertClose(got.output.readSync(), want.out, 1e-5, `output ${JSON.stringify(shape)}`);
        assertClose(got.state.readSync(), want.state, 1e-5, `state ${JSON.stringify(shape)}`);
      }
    }));

  it('runs in SIMD where dv is a multiple of 4 and in JavaScript otherwise or with SIMD off, each matching the float64 definition over many rows (several chunks)', () =>
    withSeed((rng) => {
      const shape = { n: 1000, keyHeads: 2, heads: 8, dk: 33, dv: 64 };
      const x = inputs(rng, shape);
      const want = deltaRuleRef(x.q, x.k, x.v, x.g, x.beta, x.state, shape);
      for (const simd of [true, false]) {
        setSimdKernels(simd);
        const got = run(x, shape);
        assertClose(got.output.readSync(), want.out, 1e-5, `output, SIMD ${simd}`);
        assertClose(got.state.readSync(), want.state, 1e-5, `state, SIMD ${simd}`);
      }
    }));

  it('writes what it is given to remember: with β = 1 and no decay, reading with the key returns the value', () => {
    const [dk, dv] = [4, 3];
    const key = [0, 1, 0, 0];
    const value = [0.5, -2, 3];
    const { output } = gatedDeltaRule(
      tensor(key, [1, 1, dk]), tensor(key, [1, 1, dk]), tensor(value, [1, 1, dv]), tensor([0], [1, 1]), tensor([1], [1, 1]),
      tensor(new Float32Array(dk * dv).fill(0.25), [1, dk, dv]),
    );
    assertClose(output.readSync(), value, 1e-6, 'recalled value');
  });

  it.each([5, 8])('continues a sequence: run in pieces, each from the state the last left, it gives the whole run bit for bit (dv %i)', (dv) =>
    withSeed((rng) => {
      const shape = { n: 10, keyHeads: 2, heads: 4, dk: 6, dv };
      const x = inputs(rng, shape);
      const whole = run(x, shape);
      const { n, keyHeads, heads, dk } = shape;
      const all = { q: tensor(x.q, [n, keyHeads, dk]), k: tensor(x.k, [n, keyHeads, dk]), v: tensor(x.v, [n, heads, dv]), g: tensor(x.g, [n, heads]), beta: tensor(x.beta, [n, heads]) };
      let state = tensor(x.state, [heads, dk, dv]);
      const outs: number[] = [];
      for (const [start, end] of [[0, 4], [4, 5], [5, 10]]) {
        const rows = (t: typeof all.q) => slice(t, [start], [end]);
        const piece = gatedDeltaRule(rows(all.q), rows(all.k), rows(all.v), rows(all.g), rows(all.beta), state);
        outs.push(...piece.output.readSync());
        state = piece.state;
      }
      expect(outs).toEqual(Array.from(whole.output.readSync()));
      expect(Array.from(state.readSync())).toEqual(Array.from(whole.state.readSync()));
    }));

  it('takes f16 and bf16 inputs (the log decays in f32), keeping the output in their dtype and the state in f32', () =>
    withSeed((rng) => {
      const shape = { n: 5, keyHeads: 1, heads: 2, dk: 8, dv: 4 };
      for (const dtype of ['f16', 'bf16'] as const) {
        const x = inputs(rng, shape);
        const got = run(x, shape, dtype);
        expect([got.output.dtype, got.state.dtype]).toEqual([dtype, 'f32']);
        const half = (values: Float64Array, dims: number[]) => tensor(values, dims, { dtype }).readFloat32Sync();
        const { n, keyHeads, heads, dk, dv } = shape;
        const want = deltaRuleRef(half(x.q, [n, keyHeads, dk]), half(x.k, [n, keyHeads, dk]), half(x.v, [n, heads, dv]), x.g, half(x.beta, [n, heads]), x.state, shape);
        assertClose(got.output.readFloat32Sync(), want.out, dtype === 'f16' ? 2e-3 : 1e-2, dtype);
        assertClose(got.state.readSync(), want.state, 1e-5, `${dtype} state`);
      }
    }));

  it('refuses bad input with typed errors', () => {
    const [n, keyHeads, heads, dk, dv] = [2, 2, 4, 3, 5];
    const q = tensor(new Float32Array(n * keyHeads * dk), [n, keyHeads, dk]);
    const v = tensor(new Float32Array(n * heads * dv), [n, heads, dv]);
    const g = tensor(new Float32Array(n * heads), [n, heads]);
    const state = tensor(new Float32Array(heads * dk * dv), [heads, dk, dv]);
    const refused = (fn: () => unknown, type: new (...args: never[]) => Error, message: RegExp) => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    };
    refused(() => gatedDeltaRule(q, tensor(new Float32Array(n * keyHeads * 4), [n, keyHeads, 4]), v, g, g, state), ShapeMismatchError, /k must have q.s shape/);
    refused(() => gatedDeltaRule(q, q, tensor(new Float32Array(n * 3 * dv), [n, 3, dv]), g, g, state), ShapeMismatchError, /key heads dividing its heads/);
    refused(() => gatedDeltaRule(q, q, v, tensor(new Float32Array(n), [n, 1]), g, state), ShapeMismatchError, /g must be \[2, 4\]/);
    refused(() => gatedDeltaRule(q, q, v, g, tensor(new Float32Array(heads), [1, heads]), state), ShapeMismatchError, /beta must be \[2, 4\]/);
    refused(() => gatedDeltaRule(q, q, v, g, g, tensor(new Float32Array(heads * dk * 4), [heads, dk, 4])), ShapeMismatchError, /state must be \[4, 3, 5\]/);
    refused(() => gatedDeltaRule(q, q, v, g, tensor(new Float32Array(n * heads), [n, heads], { dtype: 'f16' }), state), DTypeMismatchError, /dtypes differ/);
    refused(() => gatedDeltaRule(q, q, v, tensor(new Float32Array(n * heads), [n, heads], { dtype: 'f16' }), g, state), UnsupportedDTypeError, /g/);
    refused(() => gatedDeltaRule(q, q, v, g, g, tensor(new Float32Array(heads * dk * dv), [heads, dk, dv], { dtype: 'f16' })), UnsupportedDTypeError, /state/);
    refused(() => gatedDeltaRule(tensor(new Float32Array(6), [2, 3]), q, v, g, g, state), ShapeMismatchError, /q must have rank 3/);
  });
});
