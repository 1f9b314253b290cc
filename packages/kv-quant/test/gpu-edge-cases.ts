/**
 * Edge cases of kv-quant's GPU kernels against its CPU kernels, bit for bit (codes, scale/zero
 * bits, dequantized f32 bits): exact rounding ties, a double rounding in float64 that an exact
 * quotient would not do, constant groups, the NaN/±∞ policy of the CPU kernel, parameters that
 * overflow or underflow f16, subnormal inputs, and sizes that leave most of a workgroup idle.
 * Each case packs its scenarios as rows of one tensor (one dispatch), filled around fresh random
 * values. Used by the WebGPU and CUDA-emulator suites and by tooling/gpu/kv-quant-check.ts.
 */
import { type Backend, cpuBackend, type DType, type Rng, type Tensor, tensor, transpose } from '@kvkit/tensor-core';
import { dequantizeFp8, dequantizeUniform, type Fp8Format, quantizeFp8, quantizeUniform, type UniformQuantAttrs } from '../src/index.js';
import { fp8Table } from '../src/numeric/fp8.js';
import { compare, type GpuParityCase } from './gpu-parity-cases.js';

const cpu = cpuBackend();
const ROW = 16;

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng.uniform() * items.length)];
}

function row(rng: Rng, fixed: readonly number[], fill: () => number): number[] {
  const out = [...fixed];
  while (out.length < ROW) out.push(fill());
  // Shuffle, so min/max and the special values sit anywhere in the group.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function tieInFloat64(rng: Rng, top: number): number[] {
  const zero = -(Math.floor(rng.uniform() * top) + 0.5);
  return row(rng, [zero, zero + top], () => pick(rng, [1, -1]) * 2 ** -pick(rng, [2, 20, 52, 53, 54, 60, 100, 149]));
}

/** One group of ROW values per scenario. */
function uniformEdgeRows(rng: Rng, bits: number, symmetric: boolean): number[][] {
  const top = 2 ** bits - 1;
  const half = 2 ** (bits - 1);
  const s = 0.125;
  const signed = () => (rng.uniform() * 2 - 1) * 4;
  return [
    // Exact ties (k + 1/2) · scale with an exact power-of-two scale: rint goes to the even code.
    symmetric
      ? row(rng, [(half - 1) * s], () => (Math.floor(rng.uniform() * (2 * half - 2)) - (half - 1) + 0.5) * s)
      : row(rng, [0, top * s], () => (Math.floor(rng.uniform() * top) + 0.5) * s),
    // zero = −(j + 1/2), scale = 1, x = ±2^−m: x − zero = j + 1/2 ± 2^−m rounds to the tie in
    // float64 when m is large (the CPU then picks the even code; exact arithmetic would not).
    symmetric ? row(rng, [], signed) : tieInFloat64(rng, top),
    row(rng, [], () => 1.25), // constant group: scale 0
    row(rng, [-0], () => pick(rng, [0, -0])), // zeros of both signs
    row(rng, [NaN], signed),
    row(rng, [Infinity], signed),
    row(rng, [-Infinity, Infinity], signed),
    row(rng, [], () => Infinity),
    row(rng, [-Infinity], () => -Infinity),
    // Beyond f16 (parameters overflow to ±65504 or ∞) and near the f32 limit.
    row(rng, [7e4, -1e5, 65504, 3e38, -3.4e38], () => signed() * 3e4),
    row(rng, [6e4, 1e5], () => 6e4 + rng.uniform() * 4e4),
    // f32 subnormal inputs; tiny values whose f16 scale is subnormal or underflows.
    row(rng, [1e-45, -1e-40], () => signed() * 1e-39),
    row(rng, [], () => signed() * 1e-6),
    row(rng, [], () => signed() * 1e-9),
    row(rng, [], signed),
  ];
}

async function runUniform(
  gpu: Backend,
  data: Float32Array,
  shape: number[],
  dtype: DType,
  attrs: UniformQuantAttrs,
  view: (t: Tensor) => Tensor = (t) => t
): Promise<string | undefined> {
  const ref = quantizeUniform(view(tensor(data, shape, { dtype, backend: cpu })), attrs);
  const got = quantizeUniform(view(tensor(data, shape, { dtype, backend: gpu })), attrs);
  const length = shape[shape.length - 1];
  return (
    (await compare('codes', got.codes, ref.codes)) ??
    (await compare('scale', got.scale, ref.scale)) ??
    (await compare('zero', got.zero, ref.zero, true)) ??
    compare('dequantized', dequantizeUniform(got, length, attrs), dequantizeUniform(ref, length, attrs), true)
  );
}

function uniformEdgeCases(): GpuParityCase[] {
  const cases: GpuParityCase[] = [];
  for (const bits of [1, 2, 3, 4, 8]) {
    for (const symmetric of bits === 1 ? [false] : [false, true]) {
      for (const paramDType of ['f16', 'f32'] as const) {
        const attrs: UniformQuantAttrs = { bits, groupSize: ROW, symmetric, paramDType };
        cases.push({
          name: `uniform edges ${symmetric ? 'sym' : 'asym'} ${bits}-bit f32→${paramDType}: ties, float64 double rounding, constant, ±0, NaN, ±∞, f16 overflow, subnormals`,
          async run(gpu, rng) {
            const rows = uniformEdgeRows(rng, bits, symmetric);
            return runUniform(gpu, Float32Array.from(rows.flat()), [rows.length, ROW], 'f32', attrs);
          },
        });
      }
    }
  }
  for (const symmetric of [false, true]) {
    cases.push({
      name: `uniform edges ${symmetric ? 'sym' : 'asym'} 4-bit f16→f16: f16 subnormal inputs, ±∞, NaN`,
      async run(gpu, rng) {
        const rows = [
          row(rng, [2 ** -24, -(2 ** -20)], () => (rng.uniform() * 2 - 1) * 2 ** -15),
          row(rng, [Infinity, NaN], () => rng.uniform()),
          row(rng, [65504, -65504], () => (rng.uniform() * 2 - 1) * 6e4),
          row(rng, [], () => rng.uniform() * 2 - 1),
        ];
        return runUniform(gpu, Float32Array.from(rows.flat()), [rows.length, ROW], 'f16', { bits: 4, groupSize: ROW, symmetric, paramDType: 'f16' });
      },
    });
  }
  // Task counts around a workgroup (64 threads): 1, 63, 65 groups; values 1, 63, 65·3 and more.
  const sizes: [number[], number][] = [
    [[1, 1], 1],
    [[63, 1], 1],
    [[65, 3], 3],
    [[3, 67], 5],
  ];
  for (const [shape, groupSize] of sizes) {
    const attrs: UniformQuantAttrs = { bits: 3, groupSize, symmetric: false, paramDType: 'f16' };
    cases.push({
      name: `uniform asym 3-bit [${shape}] g${groupSize}: partial workgroups`,
      run: (gpu, rng) => runUniform(gpu, Float32Array.from({ length: shape[0] * shape[1] }, () => rng.uniform() * 2 - 1), shape, 'f32', attrs),
    });
  }
  // Leading axes that do not merge into two strided ones: the kernel reads a row-major copy.
  cases.push({
    name: 'uniform asym 4-bit bf16→f16 on a rank-4 view whose leading axes do not merge',
    run: (gpu, rng) =>
      runUniform(gpu, Float32Array.from({ length: 2 * 3 * 4 * 9 }, () => rng.uniform() * 2 - 1), [2, 3, 4, 9], 'bf16', { bits: 4, groupSize: 4, symmetric: false, paramDType: 'f16' }, (t) =>
        transpose(t, [1, 0, 2, 3])
      ),
  });
  return cases;
}

/**
 * FP8 inputs that land, after dividing by a power-of-two scale, on every finite code, on every
 * midpoint between neighbouring codes (ties to the even code), one f32 step either side of a
 * midpoint, beyond the largest value, and on ±∞, NaN and ±0.
 */
function fp8EdgeValues(rng: Rng, format: Fp8Format, scale: number): number[] {
  const { magnitudes } = fp8Table(format);
  const out: number[] = [NaN, Infinity, -Infinity, 0, -0, 2 * magnitudes[magnitudes.length - 1], 1e30];
  const f32 = (x: number) => Math.fround(x);
  for (let i = 0; i < magnitudes.length; i++) {
    const sign = rng.uniform() < 0.5 ? -1 : 1;
    out.push(sign * magnitudes[i] * scale);
    if (i + 1 < magnitudes.length) {
      const mid = f32(((magnitudes[i] + magnitudes[i + 1]) / 2) * scale);
      const step = Math.abs(mid) * 2 ** -23;
      out.push(sign * mid, sign * f32(mid + step), sign * f32(mid - step));
    }
  }
  return out;
}

function fp8EdgeCases(): GpuParityCase[] {
  return (['e4m3', 'e5m2'] as Fp8Format[]).map((format) => ({
    name: `fp8 ${format} edges: every code and midpoint, ±1 step, saturation, ±∞, NaN, ±0; per-head scales 2^k, 0, ∞, subnormal`,
    async run(gpu: Backend, rng: Rng) {
      const power = 2 ** (Math.floor(rng.uniform() * 8) - 4);
      const values = fp8EdgeValues(rng, format, power);
      const heads = 4;
      const data = Float32Array.from({ length: heads * values.length }, (_, i) => values[i % values.length]);
      // Head 0's power of two keeps every tie exact; the others: no scale, an infinite one, a subnormal one.
      const scales = Float32Array.of(power, 0, Infinity, 1e-40);
      const shape = [heads, values.length];
      const on = (backend: Backend) => [tensor(data, shape, { backend }), tensor(scales, [heads], { backend })] as const;
      const [xc, sc] = on(cpu);
      const [xg, sg] = on(gpu);
      const ref = quantizeFp8(xc, sc, format);
      const got = quantizeFp8(xg, sg, format);
      return (await compare('codes', got, ref)) ?? compare('dequantized', dequantizeFp8(got, sg, format, values.length), dequantizeFp8(ref, sc, format, values.length), true);
    },
  }));
}

export function gpuEdgeCases(): GpuParityCase[] {
  return [...uniformEdgeCases(), ...fp8EdgeCases()];
}
