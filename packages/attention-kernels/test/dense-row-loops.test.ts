// The dense CPU kernels' inner loops: the WebAssembly SIMD loops give exactly the values of the
// JavaScript loops (same float64 sums in the same order), and both match the float64 definition.
import { f16ArrayToF32, f32ArrayToF16, keptModuleArena, type Rng, setSimdKernels } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { rowAccumulate, rowScores } from '../src/cpu/dense-row-loops.js';
import denseRowsWasm from '../src/cpu/dense-rows.wat';

interface Case {
  rows: number;
  d: number;
  dv: number;
  count: number;
  /** Elements before the tile's first key/value row in the backing arrays. */
  offset: number;
  stride: number;
  active: Uint8Array;
}

function randomCase(rng: Rng): Case {
  const rows = 1 + rng.int(11);
  const d = [1, 2, 3, 5, 8, 20, 63, 64, 65, 128][rng.int(10)];
  const dv = [1, 2, 3, 6, 7, 64, 65, 96][rng.int(8)];
  const count = 1 + rng.int(70);
  const active = Uint8Array.from({ length: rows }, () => (rng.uniform() < 0.75 ? 1 : 0));
  return { rows, d, dv, count, offset: rng.int(3) * 7, stride: count + rng.int(5), active };
}

const doubles = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());
const floats = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** Tile rows as the loops take them, f32 or (every other trial) f16 bit patterns, and their values as f32. */
function tileRows(rng: Rng, n: number, f16: boolean): { rows: Float32Array | Uint16Array; values: Float32Array } {
  const values = floats(rng, n);
  if (!f16) return { rows: values, values };
  const rows = f32ArrayToF16(values);
  return { rows, values: f16ArrayToF32(rows) };
}

/** Runs `body` with the SIMD loops switched on or off (the JavaScript loops). */
function withSimd<T>(on: boolean, body: () => T): T {
  setSimdKernels(on);
  try {
    return body();
  } finally {
    setSimdKernels(true);
  }
}

describe('dense CPU row loops', () => {
  it('run in WebAssembly SIMD here (so the comparisons below compare two implementations)', () => {
    expect(keptModuleArena(denseRowsWasm, 8)).not.toBeNull();
  });

  it('scores: SIMD = JavaScript exactly, and = q·k in float64 for every active row (f32 and f16 keys)', () =>
    withSeed((rng) => {
      for (let trial = 0; trial < 40; trial++) {
        const c = randomCase(rng);
        const q = doubles(rng, c.rows * c.d);
        const { rows: keys, values: k } = tileRows(rng, c.offset + c.count * c.d, trial % 2 === 1);
        const run = (simd: boolean) => {
          const out = new Float64Array(c.rows * c.stride).fill(Number.NaN);
          withSimd(simd, () => rowScores(q, c.rows, c.d, c.active, keys, c.offset, c.count, out, c.stride));
          return out;
        };
        const [simd, script] = [run(true), run(false)];
        for (let r = 0; r < c.rows; r++) {
          if (!c.active[r]) continue;
          for (let t = 0; t < c.count; t++) {
            const at = r * c.stride + t;
            expect(simd[at], `row ${r} key ${t} of ${JSON.stringify({ ...c, active: [...c.active] })}`).toBe(script[at]);
            let dot = 0;
            for (let ch = 0; ch < c.d; ch++) dot += q[r * c.d + ch] * k[c.offset + t * c.d + ch];
            expect(Math.abs(simd[at] - dot)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(dot)) * c.d);
          }
        }
      }
    }));

  it('accumulate: SIMD = JavaScript exactly, and acc + Σ p·v in float64 (f32 and f16 values); inactive rows keep their accumulators', () =>
    withSeed((rng) => {
      for (let trial = 0; trial < 40; trial++) {
        const c = randomCase(rng);
        const p = doubles(rng, c.rows * c.stride).map(Math.abs);
        const { rows: values, values: v } = tileRows(rng, c.offset + c.count * c.dv, trial % 2 === 1);
        const start = doubles(rng, c.rows * c.dv);
        const run = (simd: boolean) => {
          const acc = start.slice();
          withSimd(simd, () => rowAccumulate(p, c.stride, c.rows, c.active, values, c.offset, c.dv, c.count, acc));
          return acc;
        };
        const [simd, script] = [run(true), run(false)];
        expect([...simd], JSON.stringify({ ...c, active: [...c.active] })).toEqual([...script]);
        for (let r = 0; r < c.rows; r++) {
          for (let ch = 0; ch < c.dv; ch++) {
            let expected = start[r * c.dv + ch];
            if (c.active[r]) for (let t = 0; t < c.count; t++) expected += p[r * c.stride + t] * v[c.offset + t * c.dv + ch];
            expect(Math.abs(simd[r * c.dv + ch] - expected)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(expected)) * c.count);
          }
        }
      }
    }));
});
