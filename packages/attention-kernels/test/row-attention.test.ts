// The fused row kernel (src/cpu/row-attention.ts + .wat): a block's tiles folded into its softmax
// state in float32 SIMD give the float64 definition's outputs and log-sum-exps, through one range or
// many (a paged walk), with masks, log weights, f16 rows and the special values of the generic loop.
import { f16ArrayToF32, f32ArrayToF16, keptModuleArena, type Rng, setSimdKernels } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { SoftmaxState } from '../src/cpu/online-softmax.js';
import rowAttentionWasm from '../src/cpu/row-attention.wat';
import { RowAttentionRun } from '../src/cpu/row-attention.js';
import { accumulateRange, accumulateRanges, TileScratch } from '../src/cpu/tile-loop.js';
import { createQueryBlock, DenseRowSource, type QueryBlock } from '../src/cpu/tile-source.js';

interface Case {
  rows: number;
  d: number;
  dv: number;
  n: number;
  tile: number;
  causal: boolean;
  window: number;
  f16: boolean;
  logWeights: boolean;
}

function randomCase(rng: Rng): Case {
  return {
    rows: 1 + rng.int(9),
    d: [4, 8, 64, 128][rng.int(4)],
    dv: [4, 12, 32, 36, 64, 128][rng.int(6)],
    n: 1 + rng.int(150),
    tile: [3, 5, 16, 64][rng.int(4)],
    causal: rng.uniform() < 0.5,
    window: rng.uniform() < 0.3 ? 1 + rng.int(40) : 0,
    f16: rng.uniform() < 0.3,
    logWeights: rng.uniform() < 0.3,
  };
}

/** Keys, values (f32, or f16 bit patterns with their f32 values), positions, log weights and a query block of a case. */
function inputs(rng: Rng, c: Case) {
  const floats = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const rows = (n: number) => {
    const values = floats(n);
    if (!c.f16) return { stored: values as Float32Array | Uint16Array, values };
    const stored = f32ArrayToF16(values);
    return { stored, values: f16ArrayToF32(stored) };
  };
  const keys = rows(c.n * c.d);
  const values = rows(c.n * c.dv);
  const positions = Int32Array.from({ length: c.n }, (_, t) => t);
  const logWeights = c.logWeights ? Float32Array.from({ length: c.n }, () => Math.log(1 + rng.int(4))) : undefined;
  const block = createQueryBlock(c.rows, c.d);
  for (let i = 0; i < c.rows * c.d; i++) block.q[i] = rng.normal() * 0.3;
  // Query positions across the keys, so causal and windowed rows see some, all or none of a tile.
  for (let r = 0; r < c.rows; r++) block.pos[r] = rng.int(c.n + 5) - 3;
  return { keys, values, positions, logWeights, block };
}

/** Per row: Σ softmax(s)·v and log Σ exp(s) over the visible keys, in float64 from the stored values. */
function definition(c: Case, x: ReturnType<typeof inputs>) {
  const out = new Float64Array(c.rows * c.dv);
  const lse = new Float64Array(c.rows).fill(-Infinity);
  for (let r = 0; r < c.rows; r++) {
    const qp = x.block.pos[r];
    const scores: [number, number][] = [];
    for (let t = 0; t < c.n; t++) {
      const kp = x.positions[t];
      if ((c.causal && kp > qp) || (c.window > 0 && qp - kp >= c.window)) continue;
      let s = 0;
      for (let i = 0; i < c.d; i++) s += x.block.q[r * c.d + i] * x.keys.values[t * c.d + i];
      scores.push([t, s + (x.logWeights ? x.logWeights[t] : 0)]);
    }
    if (scores.length === 0) continue;
    const max = Math.max(...scores.map(([, s]) => s));
    let sum = 0;
    for (const [t, s] of scores) {
      const p = Math.exp(s - max);
      sum += p;
      for (let i = 0; i < c.dv; i++) out[r * c.dv + i] += p * x.values.values[t * c.dv + i];
    }
    for (let i = 0; i < c.dv; i++) out[r * c.dv + i] /= sum;
    lse[r] = max + Math.log(sum);
  }
  return { out, lse };
}

/** The state's outputs and log-sum-exps after folding the case's keys, as `fold` feeds them. */
function run(c: Case, x: ReturnType<typeof inputs>, fold: (source: DenseRowSource, block: QueryBlock, state: SoftmaxState, scratch: TileScratch) => void) {
  const source = new DenseRowSource(c.d, c.dv, c.tile).bind(x.keys.stored, 0, x.values.stored, 0, x.positions, 0, x.logWeights);
  const state = new SoftmaxState(c.rows, c.dv);
  state.reset(c.rows);
  fold(source, x.block, state, new TileScratch(c.rows, c.tile));
  const out = new Float64Array(c.rows * c.dv);
  const lse = new Float64Array(c.rows);
  for (let r = 0; r < c.rows; r++) {
    state.writeOutput(r, out, r * c.dv);
    lse[r] = state.logSumExp(r);
  }
  return { out, lse };
}

const mask = (c: Case) => ({ causal: c.causal, window: c.window, softcap: 0 });

/** float32 products and sums: a score's rounding grows with the d terms of its dot product, and each output moves with its scores. */
const float32Tolerance = (c: Case) => 2 ** -23 * (c.d + 16);

function expectClose(got: { out: Float64Array; lse: Float64Array }, want: { out: Float64Array; lse: Float64Array }, c: Case, tolerance: number): void {
  const label = JSON.stringify(c);
  for (let r = 0; r < c.rows; r++) {
    if (want.lse[r] === -Infinity) {
      expect(got.lse[r], `row ${r} sees no key: ${label}`).toBe(-Infinity);
      continue;
    }
    expect(Math.abs(got.lse[r] - want.lse[r]), `lse of row ${r}: ${label}`).toBeLessThanOrEqual(tolerance * (1 + Math.abs(want.lse[r])));
    for (let i = 0; i < c.dv; i++) {
      const at = r * c.dv + i;
      expect(Math.abs(got.out[at] - want.out[at]), `output ${r}, ${i}: ${label}`).toBeLessThanOrEqual(tolerance);
    }
  }
}

describe('fused row attention (float32 SIMD)', () => {
  it('runs here, so the comparisons below test it', () => {
    expect(keptModuleArena(rowAttentionWasm, 8)).not.toBeNull();
    const block = createQueryBlock(2, 8);
    const source = new DenseRowSource(8, 8, 4);
    const state = new SoftmaxState(2, 8);
    const opened = RowAttentionRun.open(source, block, state, { causal: false, window: 0, softcap: 0 }, new TileScratch(2, 4));
    expect(opened).not.toBeNull();
    opened?.close();
    // Soft-capping and head dims that are not a multiple of 4 take the generic loop.
    expect(RowAttentionRun.open(source, block, state, { causal: false, window: 0, softcap: 30 }, new TileScratch(2, 4))).toBeNull();
    expect(RowAttentionRun.open(new DenseRowSource(6, 8, 4), createQueryBlock(2, 6), state, { causal: false, window: 0, softcap: 0 }, new TileScratch(2, 4))).toBeNull();
  });

  it('matches the float64 definition and the generic loop: masks, windows, log weights, f16 rows, ragged tiles', () =>
    withSeed((rng) => {
      for (let trial = 0; trial < 60; trial++) {
        const c = randomCase(rng);
        const x = inputs(rng, c);
        const want = definition(c, x);
        const fused = run(c, x, (source, block, state, scratch) => accumulateRange(source, block, state, mask(c), 0, c.n, scratch));
        expectClose(fused, want, c, float32Tolerance(c));
        setSimdKernels(false);
        try {
          expectClose(run(c, x, (source, block, state, scratch) => accumulateRange(source, block, state, mask(c), 0, c.n, scratch)), want, c, 1e-12);
        } finally {
          setSimdKernels(true);
        }
      }
    }));

  it('keeps its state across the ranges of a walk (pages bound one after another, some without log weights) as one range does', () =>
    withSeed((rng) => {
      for (let trial = 0; trial < 30; trial++) {
        const c = randomCase(rng);
        const x = inputs(rng, c);
        const page = 1 + rng.int(20);
        // Pages bound without log weights weigh their keys by e^0: the definition sees those zeros.
        const unweighted = Array.from({ length: Math.ceil(c.n / page) }, () => rng.uniform() < 0.4);
        const effective = x.logWeights?.map((w, t) => (unweighted[Math.floor(t / page)] ? 0 : w));
        const walked = run(c, x, (source, block, state, scratch) =>
          accumulateRanges(source, block, state, mask(c), scratch, (visit) => {
            for (let p0 = 0, i = 0; p0 < c.n; p0 += page, i++) {
              source.bind(x.keys.stored, p0 * c.d, x.values.stored, p0 * c.dv, x.positions, p0, unweighted[i] ? undefined : x.logWeights);
              visit(0, Math.min(page, c.n - p0));
            }
          }),
        );
        expectClose(walked, definition(c, { ...x, logWeights: effective }), { ...c, page } as Case, float32Tolerance(c));
      }
    }));

  it('weights two keys by e^(s1 − s0) to float32 accuracy across the exponent range', () => {
    // Keys (1, 0, 0, 0) and (0, 1, 0, 0), values (1, 0, 0, 0) and (0, 1, 0, 0): the output is
    // (1, e^x) / (1 + e^x) for the query (0, x, 0, 0), so its ratio is e^x.
    for (const x of [0, -1e-3, -0.3466, -0.5, -1, -3.7, -10, -20.25, -42, -60, -80, -86.5]) {
      const c: Case = { rows: 1, d: 4, dv: 4, n: 2, tile: 64, causal: false, window: 0, f16: false, logWeights: false };
      const keys = Float32Array.of(1, 0, 0, 0, 0, 1, 0, 0);
      const block = createQueryBlock(1, 4);
      block.q.set([0, x, 0, 0]);
      const got = run(c, { keys: { stored: keys, values: keys }, values: { stored: keys, values: keys }, positions: Int32Array.of(0, 1), logWeights: undefined, block }, (source, b, state, scratch) =>
        accumulateRange(source, b, state, mask(c), 0, 2, scratch),
      );
      expect(Math.abs(got.out[1] / got.out[0] / Math.exp(x) - 1), `e^${x}`).toBeLessThanOrEqual(4e-7);
    }
  });

  it('gives the generic loop’s special values: a NaN score turns its row NaN, scores 100 apart underflow to 0, a row seeing no key stays empty', () => {
    const c: Case = { rows: 3, d: 4, dv: 4, n: 6, tile: 4, causal: true, window: 0, f16: false, logWeights: false };
    // Keys score their first channel times the query's: key 0 scores 0, key 4 NaN, the others q₀.
    const keys = Float32Array.from({ length: 24 }, (_, i) => (i % 4 === 0 && i > 0 ? 1 : 0));
    keys[16] = Number.NaN;
    const values = Float32Array.from({ length: 24 }, (_, i) => i);
    const block = createQueryBlock(3, 4);
    block.q.set([100, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    block.pos.set([5, 3, -1]); // causal: row 0 sees keys 0–5 (key 4 among them), row 1 keys 0–3, row 2 none
    const x = { keys: { stored: keys, values: keys }, values: { stored: values, values }, positions: Int32Array.of(0, 1, 2, 3, 4, 5), logWeights: undefined, block };
    const got = run(c, x, (source, b, state, scratch) => accumulateRange(source, b, state, mask(c), 0, 6, scratch));
    expect(Number.isNaN(got.lse[0])).toBe(true);
    expect(got.out.subarray(0, 4).every(Number.isNaN)).toBe(true);
    const want = definition(c, x);
    expectClose({ out: got.out.subarray(4, 8), lse: got.lse.subarray(1, 2) }, { out: want.out.subarray(4, 8), lse: want.lse.subarray(1, 2) }, { ...c, rows: 1 }, 2e-6);
    expect(got.lse[2]).toBe(-Infinity);
    expect([...got.out.subarray(8, 12)]).toEqual([0, 0, 0, 0]);

    // Scores 100 apart: the far key's weight underflows to 0 in both loops.
    const far = Float32Array.of(1, 0, 0, 0, -1, 0, 0, 0);
    const farBlock = createQueryBlock(1, 4);
    farBlock.q.set([50, 0, 0, 0]);
    const two: Case = { ...c, rows: 1, n: 2, causal: false };
    // The far key's value is large enough that a weight of e^-87 ≈ 1.6e-38 instead of 0 would show.
    const farValues = Float32Array.of(1, 2, 3, 4, 1e36, 1e36, 1e36, 1e36);
    const underflow = run(two, { keys: { stored: far, values: far }, values: { stored: farValues, values: farValues }, positions: Int32Array.of(0, 1), logWeights: undefined, block: farBlock }, (source, b, state, scratch) =>
      accumulateRange(source, b, state, mask(two), 0, 2, scratch),
    );
    expect([...underflow.out]).toEqual([1, 2, 3, 4]);
    expect(underflow.lse[0]).toBe(50);
  });
});
