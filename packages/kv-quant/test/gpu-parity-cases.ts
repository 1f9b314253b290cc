/**
 * Parity cases of kv-quant's GPU kernels against its CPU kernels, shared by the emulator/SwiftShader
 * suites and tooling/gpu/kv-quant-check.ts (the real devices). Every case draws fresh inputs from
 * the given rng, runs the op on the CPU backend and on `gpu`, and compares bit patterns: codes
 * word for word, scale/zero as their f16/f32 bits, dequantized values as f32 bits.
 */
import { type Backend, cpuBackend, type DType, type Rng, type Tensor, tensor, transpose } from '@kvkit/tensor-core';
import { dequantizeFp8, dequantizeUniform, type Fp8Format, quantizeFp8, quantizeUniform, type UniformQuantAttrs } from '../src/index.js';

export interface GpuParityCase {
  name: string;
  run(gpu: Backend, rng: Rng): Promise<string | undefined>;
}

const cpu = cpuBackend();

/** Raw bits of a tensor's elements (f16/bf16 as u16 bits, f32 as u32 bits), for exact comparison. */
async function bitsOf(t: Tensor): Promise<Uint32Array> {
  const values = await t.read();
  if (values instanceof Float32Array) return new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  return Uint32Array.from(values as ArrayLike<number>);
}

/** Whether raw bits of a float dtype are a NaN. */
function isNaNBits(bits: number, dtype: DType): boolean {
  if (dtype === 'f32') return (bits & 0x7fffffff) > 0x7f800000;
  if (dtype === 'f16') return (bits & 0x7fff) > 0x7c00;
  return dtype === 'bf16' && (bits & 0x7fff) > 0x7f80;
}

/**
 * undefined when equal, else the first mismatch. With `anyNaN`, a NaN matches any NaN: the sign
 * and payload of a NaN the CPU computes (∞ − ∞, 0 · ∞) are the host's (x86 gives −NaN).
 */
export async function compare(label: string, gpu: Tensor | undefined, ref: Tensor | undefined, anyNaN = false): Promise<string | undefined> {
  if (!gpu || !ref) return gpu === ref ? undefined : `${label}: present on one backend only`;
  if (gpu.dtype !== ref.dtype || gpu.shape.join() !== ref.shape.join())
    return `${label}: ${gpu.dtype} [${gpu.shape}] vs CPU ${ref.dtype} [${ref.shape}]`;
  const [a, b] = await Promise.all([bitsOf(gpu), bitsOf(ref)]);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(anyNaN && isNaNBits(a[i], gpu.dtype) && isNaNBits(b[i], gpu.dtype)))
      return `${label}[${i}]: 0x${a[i].toString(16)} vs CPU 0x${b[i].toString(16)} (${a.length} elements)`;
  }
  return undefined;
}

/** Values with spread groups, exact ties, repeated values and constant groups (scale 0). */
function values(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    out[i] = u < 0.05 ? 0 : u < 0.1 ? Math.round(rng.uniform() * 8) / 4 : (rng.uniform() * 2 - 1) * 3;
  }
  if (n > 8) out.fill(out[0], 0, 5); // a constant run: groups of ≤ 5 there have scale 0
  // A non-negative run with −0 after +0: its group's minimum is −0 (Math.min orders −0 below +0).
  if (n > 21) out.set([0, -0, 0.5, 1, 0.25, 2, 0], 14);
  return out;
}

interface UniformCase {
  shape: number[];
  groupSize: number;
  dtype: DType;
  /** Group along axis -2 (per channel, as KIVI quantizes keys): the kernel sees a transposed view. */
  perChannel?: boolean;
}

const UNIFORM_SHAPES: UniformCase[] = [
  { shape: [3, 37], groupSize: 7, dtype: 'f32' },
  { shape: [2, 3, 50], groupSize: 32, dtype: 'f16' },
  { shape: [5, 19], groupSize: 64, dtype: 'bf16' },
  { shape: [2, 33, 13], groupSize: 11, dtype: 'f32', perChannel: true },
  { shape: [4, 1], groupSize: 3, dtype: 'f32' },
];

function uniformCases(): GpuParityCase[] {
  const cases: GpuParityCase[] = [];
  for (const bits of [1, 2, 3, 4, 8]) {
    for (const symmetric of bits === 1 ? [false] : [false, true]) {
      for (const paramDType of ['f16', 'f32'] as const) {
        for (const c of UNIFORM_SHAPES) {
          const attrs: UniformQuantAttrs = { bits, groupSize: c.groupSize, symmetric, paramDType };
          cases.push({
            name: `uniform ${symmetric ? 'sym' : 'asym'} ${bits}-bit ${c.dtype}→${paramDType} [${c.shape}] g${c.groupSize}${c.perChannel ? ' per-channel' : ''}`,
            async run(gpu, rng) {
              const data = values(rng, c.shape.reduce((a, b) => a * b, 1));
              const on = (backend: Backend) => {
                const t = tensor(data, c.shape, { dtype: c.dtype, backend });
                return c.perChannel ? transpose(t, [0, 2, 1]) : t;
              };
              const length = c.perChannel ? c.shape[1] : c.shape[c.shape.length - 1];
              const ref = quantizeUniform(on(cpu), attrs);
              const got = quantizeUniform(on(gpu), attrs);
              const mismatch =
                (await compare('codes', got.codes, ref.codes)) ??
                (await compare('scale', got.scale, ref.scale)) ??
                (await compare('zero', got.zero, ref.zero));
              if (mismatch) return mismatch;
              // Dequantize on the GPU from the GPU's codes (equal to the CPU's, checked above).
              return compare('dequantized', dequantizeUniform(got, length, attrs), dequantizeUniform(ref, length, attrs));
            },
          });
        }
      }
    }
  }
  return cases;
}

/** Magnitudes over 2^-14 … 2^12 (saturating and subnormal fp8 codes after scaling), exact fp8 ties, specials. */
function fp8Values(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  const specials = [NaN, Infinity, -Infinity, -0, 0, 448, 57344, 1e6, 2 ** -10, 1.0625, 1.1875, 0.5 * 2 ** -9];
  for (let i = 0; i < n; i++) {
    const sign = rng.uniform() < 0.5 ? -1 : 1;
    // Every 3rd value an exact midpoint between two e4m3 (/16) or e5m2 (/8) neighbours: ties to even.
    const tie = (1 + (2 * Math.floor(rng.uniform() * 4) + 1) / (rng.uniform() < 0.5 ? 16 : 8)) * 2 ** (Math.floor(rng.uniform() * 14) - 6);
    out[i] = i < specials.length ? specials[i] : sign * (i % 3 === 0 ? tie : 2 ** (rng.uniform() * 26 - 14));
  }
  return out;
}

function fp8Cases(): GpuParityCase[] {
  const shapes: { shape: number[]; dtype: DType; perHead: boolean; zeroScale?: boolean }[] = [
    { shape: [3, 4, 37], dtype: 'f32', perHead: true },
    { shape: [5, 9], dtype: 'f32', perHead: false },
    { shape: [2, 3, 22], dtype: 'f16', perHead: true, zeroScale: true },
    { shape: [4, 13], dtype: 'bf16', perHead: false },
  ];
  const cases: GpuParityCase[] = [];
  for (const format of ['e4m3', 'e5m2'] as Fp8Format[]) {
    for (const c of shapes) {
      cases.push({
        name: `fp8 ${format} ${c.dtype} [${c.shape}] ${c.perHead ? 'per-head' : 'global'} scale${c.zeroScale ? ' (one zero)' : ''}`,
        async run(gpu, rng) {
          const data = fp8Values(rng, c.shape.reduce((a, b) => a * b, 1));
          const scales = Float32Array.from({ length: c.perHead ? c.shape[0] : 1 }, () => 2 ** (rng.uniform() * 8 - 4) * (1 + rng.uniform()));
          scales[0] = 2 ** (Math.floor(rng.uniform() * 6) - 3); // a power of two keeps the ties exact after x / scale
          if (c.zeroScale) scales[1] = 0;
          const length = c.shape[c.shape.length - 1];
          const on = (backend: Backend) => [tensor(data, c.shape, { dtype: c.dtype, backend }), tensor(scales, [scales.length], { backend })] as const;
          const [xc, sc] = on(cpu);
          const [xg, sg] = on(gpu);
          const ref = quantizeFp8(xc, sc, format);
          const got = quantizeFp8(xg, sg, format);
          return (await compare('codes', got, ref)) ?? compare('dequantized', dequantizeFp8(got, sg, format, length), dequantizeFp8(ref, sc, format, length));
        },
      });
    }
  }
  return cases;
}

export function gpuParityCases(): GpuParityCase[] {
  return [...uniformCases(), ...fp8Cases()];
}
