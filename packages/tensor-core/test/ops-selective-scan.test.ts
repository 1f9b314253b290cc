import { afterEach, describe, expect, it } from 'vitest';
import { DTypeMismatchError, selectiveScan, setSimdKernels, ShapeMismatchError, slice, tensor, UnsupportedDTypeError } from '../src/index.js';
import { assertClose, withSeed } from '../src/testing/index.js';
import { f32Values, randomArray } from './reference.js';

interface Scan {
  n: number;
  heads: number;
  headDim: number;
  groups: number;
  dState: number;
}

/**
 * Mamba's recurrence straight from its definition, in float64: the decay rate a[h] per head
 * (Mamba-2), or a[h, s] per state entry where a holds heads · dState rates (Mamba-1).
 */
function scanRef(x: ArrayLike<number>, dt: ArrayLike<number>, a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>, state0: ArrayLike<number>, { n, heads, headDim, groups, dState }: Scan) {
  const state = Float64Array.from(state0);
  const y = new Float64Array(n * heads * headDim);
  const rate = (h: number, s: number) => (a.length === heads ? a[h] : a[h * dState + s]);
  for (let t = 0; t < n; t++)
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / (heads / groups));
      for (let p = 0; p < headDim; p++) {
        let sum = 0;
        for (let s = 0; s < dState; s++) {
          const i = (h * headDim + p) * dState + s;
          const decay = Math.exp(dt[t * heads + h] * rate(h, s));
          state[i] = decay * state[i] + dt[t * heads + h] * x[(t * heads + h) * headDim + p] * b[(t * groups + g) * dState + s];
          sum += state[i] * c[(t * groups + g) * dState + s];
        }
        y[(t * heads + h) * headDim + p] = sum;
      }
    }
  return { y, state };
}

/** Random inputs of a scan: positive step sizes, negative decay rates (per state entry with `perState`, as Mamba-1's). */
function inputs(rng: Parameters<Parameters<typeof withSeed>[0]>[0], shape: Scan, perState = false) {
  const { n, heads, headDim, groups, dState } = shape;
  return {
    x: f32Values(randomArray(rng, n * heads * headDim)),
    dt: f32Values(Array.from({ length: n * heads }, () => 0.05 + rng.uniform())),
    // Mamba-1's rates span more (−exp(A_log), A_log = log 1 … log 16 as initialized): decays down to e^−17 per step.
    a: f32Values(Array.from({ length: perState ? heads * dState : heads }, () => -0.1 - (perState ? 16 : 2) * rng.uniform())),
    b: f32Values(randomArray(rng, n * groups * dState)),
    c: f32Values(randomArray(rng, n * groups * dState)),
    state: f32Values(randomArray(rng, heads * headDim * dState)),
  };
}

afterEach(() => setSimdKernels(true));

describe('selectiveScan', () => {
  it('matches the float64 recurrence: one row or many, grouped B and C, state in and out', () =>
    withSeed((rng) => {
      for (const shape of [
        { n: 1, heads: 4, headDim: 3, groups: 1, dState: 16 },
        { n: 9, heads: 4, headDim: 5, groups: 2, dState: 7 },
        { n: 6, heads: 6, headDim: 8, groups: 3, dState: 33 },
        { n: 3, heads: 2, headDim: 1, groups: 2, dState: 1 },
      ]) {
        const { n, heads, headDim, groups, dState } = shape;
        const v = inputs(rng, shape);
        const out = selectiveScan(
          tensor(v.x, [n, heads, headDim]), tensor(v.dt, [n, heads]), tensor(v.a, [heads]), tensor(v.b, [n, groups, dState]), tensor(v.c, [n, groups, dState]),
          tensor(v.state, [heads, headDim, dState]),
        );
        const ref = scanRef(v.x, v.dt, v.a, v.b, v.c, v.state, shape);
        expect([out.y.shape, out.state.shape, out.state.dtype]).toEqual([[n, heads, headDim], [heads, headDim, dState], 'f32']);
        assertClose(out.y.readSync(), ref.y, 1e-5, `y ${JSON.stringify(shape)}`);
        assertClose(out.state.readSync(), ref.state, 1e-5, `state ${JSON.stringify(shape)}`);
      }
    }));

  it('runs in SIMD where dState is a multiple of 4 and in JavaScript otherwise or with SIMD off, each matching the float64 recurrence over many rows (several chunks) and an odd channel count', () =>
    withSeed((rng) => {
      const shape = { n: 900, heads: 8, headDim: 65, groups: 2, dState: 64 };
      const { n, heads, headDim, groups, dState } = shape;
      const v = inputs(rng, shape);
      const ref = scanRef(v.x, v.dt, v.a, v.b, v.c, v.state, shape);
      for (const simd of [true, false]) {
        setSimdKernels(simd);
        const out = selectiveScan(
          tensor(v.x, [n, heads, headDim]), tensor(v.dt, [n, heads]), tensor(v.a, [heads]), tensor(v.b, [n, groups, dState]), tensor(v.c, [n, groups, dState]),
          tensor(v.state, [heads, headDim, dState]),
        );
        assertClose(out.y.readSync(), ref.y, 1e-5, `y, SIMD ${simd}`);
        assertClose(out.state.readSync(), ref.state, 1e-5, `state, SIMD ${simd}`);
      }
    }));

  it('takes Mamba-1\u2019s decay rates per state entry (a [heads, dState]), SIMD on or off, matching the float64 recurrence', () =>
    withSeed((rng) => {
      for (const shape of [
        { n: 7, heads: 24, headDim: 1, groups: 1, dState: 16 },
        { n: 5, heads: 4, headDim: 3, groups: 2, dState: 6 },
      ]) {
        const { n, heads, headDim, groups, dState } = shape;
        const v = inputs(rng, shape, true);
        const ref = scanRef(v.x, v.dt, v.a, v.b, v.c, v.state, shape);
        for (const simd of [true, false]) {
          setSimdKernels(simd);
          const out = selectiveScan(
            tensor(v.x, [n, heads, headDim]), tensor(v.dt, [n, heads]), tensor(v.a, [heads, dState]), tensor(v.b, [n, groups, dState]), tensor(v.c, [n, groups, dState]),
            tensor(v.state, [heads, headDim, dState]),
          );
          assertClose(out.y.readSync(), ref.y, 1e-5, `y ${JSON.stringify(shape)}, SIMD ${simd}`);
          assertClose(out.state.readSync(), ref.state, 1e-5, `state ${JSON.stringify(shape)}, SIMD ${simd}`);
        }
        // Read as one rate per head (its first), the scan differs: the per-entry rates are used.
        const perHead = Array.from({ length: heads }, (_, h) => v.a[h * dState]);
        const wrong = scanRef(v.x, v.dt, perHead, v.b, v.c, v.state, shape);
        expect(Math.max(...wrong.y.map((value, i) => Math.abs(value - ref.y[i])))).toBeGreaterThan(1e-3);
      }
    }));

  it.each([6, 8])('continues a sequence: scanning it in pieces, each from the state the last one left, gives the whole scan bit for bit (dState %i)', (dState) =>
    withSeed((rng) => {
      const shape = { n: 10, heads: 4, headDim: 3, groups: 2, dState };
      const { n, heads, headDim, groups } = shape;
      const v = inputs(rng, shape);
      const [x, dt, b, c] = [tensor(v.x, [n, heads, headDim]), tensor(v.dt, [n, heads]), tensor(v.b, [n, groups, dState]), tensor(v.c, [n, groups, dState])];
      const a = tensor(v.a, [heads]);
      const whole = selectiveScan(x, dt, a, b, c, tensor(v.state, [heads, headDim, dState]));
      let state = tensor(v.state, [heads, headDim, dState]);
      const ys: number[] = [];
      for (const [start, end] of [[0, 4], [4, 5], [5, 10]]) {
        const rows = (t: typeof x) => slice(t, [start], [end]);
        const piece = selectiveScan(rows(x), rows(dt), a, rows(b), rows(c), state);
        ys.push(...piece.y.readSync());
        state = piece.state;
      }
      expect(ys).toEqual(Array.from(whole.y.readSync()));
      expect(Array.from(state.readSync())).toEqual(Array.from(whole.state.readSync()));
    }));

  it('takes f16 and bf16 inputs, keeping y in their dtype and the state in f32', () =>
    withSeed((rng) => {
      const shape = { n: 5, heads: 4, headDim: 4, groups: 1, dState: 8 };
      const { n, heads, headDim, groups, dState } = shape;
      for (const dtype of ['f16', 'bf16'] as const) {
        const v = inputs(rng, shape);
        const half = (values: Float64Array, dims: number[]) => tensor(values, dims, { dtype });
        const [x, dt, b, c] = [half(v.x, [n, heads, headDim]), half(v.dt, [n, heads]), half(v.b, [n, groups, dState]), half(v.c, [n, groups, dState])];
        const out = selectiveScan(x, dt, tensor(v.a, [heads]), b, c, tensor(v.state, [heads, headDim, dState]));
        expect([out.y.dtype, out.state.dtype]).toEqual([dtype, 'f32']);
        const ref = scanRef(x.readFloat32Sync(), dt.readFloat32Sync(), v.a, b.readFloat32Sync(), c.readFloat32Sync(), v.state, shape);
        assertClose(out.y.readFloat32Sync(), ref.y, dtype === 'f16' ? 2e-3 : 1e-2, dtype);
        assertClose(out.state.readSync(), ref.state, 1e-5, `${dtype} state`);
      }
    }));

  it('refuses bad input with typed errors', () => {
    const [n, heads, headDim, groups, dState] = [2, 4, 3, 2, 5];
    const x = tensor(new Float32Array(n * heads * headDim), [n, heads, headDim]);
    const dt = tensor(new Float32Array(n * heads), [n, heads]);
    const a = tensor(new Float32Array(heads), [heads]);
    const b = tensor(new Float32Array(n * groups * dState), [n, groups, dState]);
    const state = tensor(new Float32Array(heads * headDim * dState), [heads, headDim, dState]);
    const refused = (fn: () => unknown, type: new (...args: never[]) => Error, message: RegExp) => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    };
    refused(() => selectiveScan(x, tensor(new Float32Array(heads), [1, heads]), a, b, b, state), ShapeMismatchError, /dt must be \[2, 4\]/);
    refused(() => selectiveScan(x, dt, tensor(new Float32Array(3), [3]), b, b, state), ShapeMismatchError, /a must be \[4\] or \[4, 5\]/);
    refused(() => selectiveScan(x, dt, tensor(new Float32Array(heads * 4), [heads, 4]), b, b, state), ShapeMismatchError, /a must be \[4\] or \[4, 5\]/);
    refused(() => selectiveScan(x, dt, tensor(new Float32Array(heads * dState), [heads, dState, 1]), b, b, state), ShapeMismatchError, /a must be/);
    refused(() => selectiveScan(x, dt, a, tensor(new Float32Array(n * 3 * dState), [n, 3, dState]), b, state), ShapeMismatchError, /groups dividing the 4 heads/);
    refused(() => selectiveScan(x, dt, a, b, tensor(new Float32Array(n * groups * 4), [n, groups, 4]), state), ShapeMismatchError, /c must have b.s shape/);
    refused(() => selectiveScan(x, dt, a, b, b, tensor(new Float32Array(heads * headDim * 4), [heads, headDim, 4])), ShapeMismatchError, /state must be \[4, 3, 5\]/);
    refused(() => selectiveScan(x, tensor(new Float32Array(n * heads), [n, heads], { dtype: 'f16' }), a, b, b, state), DTypeMismatchError, /dtypes differ/);
    refused(() => selectiveScan(x, dt, a, b, b, tensor(new Float32Array(heads * headDim * dState), [heads, headDim, dState], { dtype: 'f16' })), UnsupportedDTypeError, /state/);
    refused(() => selectiveScan(tensor(new Float32Array(6), [2, 3]), dt, a, b, b, state), ShapeMismatchError, /x must have rank 3/);
  });
});
