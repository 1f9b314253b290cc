// The CPU backend's SiLU on f32 tensors runs in WebAssembly SIMD (silu-f32.wat, a float32 e^x): it
// must stay within 4 ulp of the float64 formula x / (1 + e^−x) (3.2 is the worst seen) over the
// whole f32 range, subnormal results, signed zeros, infinities and NaN included, for any length
// (chunks through the arena, a last partial quad); with SIMD off the JavaScript loop gives the
// formula rounded once.
import { afterEach, describe, expect, it } from 'vitest';
import { setSimdKernels, silu, tensor } from '../src/index.js';
import { withSeed } from '../src/testing/index.js';

afterEach(() => setSimdKernels(true));

const formula = (x: number): number => x / (1 + Math.exp(-x));

/** The gap between f32 values at |v| (the smallest subnormal below the normal range). */
function ulpOf(v: number): number {
  const a = Math.abs(Math.fround(v));
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** Indices where `actual` is not within `ulps` of the float64 formula (NaN only for NaN, infinities exactly). */
function outliers(x: Float32Array, actual: ArrayLike<number>, ulps: number): string[] {
  const bad: string[] = [];
  for (let i = 0; i < x.length && bad.length < 5; i++) {
    const want = formula(x[i]);
    const got = actual[i];
    const ok = Number.isNaN(want) ? Number.isNaN(got) : !Number.isFinite(want) ? got === want : Math.abs(got - want) <= ulps * ulpOf(want);
    if (!ok) bad.push(`silu(${x[i]}) = ${got}, formula ${want}`);
  }
  return bad;
}

describe('silu on f32 values (SIMD)', () => {
  it('stays within 4 ulp of the float64 formula over random bit patterns, a dense sweep and the special values', () =>
    withSeed((rng) => {
      const specials = [0, -0, Infinity, -Infinity, NaN, 2 ** -149, -(2 ** -149), 2 ** -126, -(2 ** -126), 3.4e38, -3.4e38, 87.3, -87.3, 88.8, -88.8, 103.9, -103.9, 104.1, -104.1, 119.9, -119.9, 120.1, -120.1];
      const random = new Uint32Array(200_003);
      for (let i = 0; i < random.length; i++) random[i] = rng.nextU32();
      const sweep = Float32Array.from({ length: 100_001 }, (_, i) => -130 + (260 * i) / 100_000);
      for (const [label, x] of [['specials', Float32Array.from(specials)], ['random bit patterns', new Float32Array(random.buffer)], ['[-130, 130]', sweep]] as const) {
        const y = silu(tensor(x, [x.length])).readSync();
        expect(outliers(x, y, 4), label).toEqual([]);
      }
    }));

  it('computes every value of a long tensor (several chunks, a last partial quad) as it computes it alone', () =>
    withSeed((rng) => {
      const length = 2 ** 18 * 2 + 7;
      const x = Float32Array.from({ length }, () => (rng.uniform() - 0.5) * 40);
      const y = silu(tensor(x, [length])).readSync();
      const picks = [0, 1, 2 ** 18 - 1, 2 ** 18, 2 ** 18 + 1, length - 7, length - 4, length - 1];
      for (const i of picks) expect(y[i], `value ${i}`).toBe(silu(tensor([x[i]], [1])).readSync()[0]);
      expect(outliers(x, y, 4)).toEqual([]);
    }));

  it('with SIMD off, gives the float64 formula rounded to f32', () =>
    withSeed((rng) => {
      setSimdKernels(false);
      const x = Float32Array.from({ length: 1001 }, () => (rng.uniform() - 0.5) * 60);
      const y = silu(tensor(x, [x.length])).readSync();
      expect(Array.from(y)).toEqual(Array.from(x, (v) => Math.fround(formula(v))));
    }));
});
