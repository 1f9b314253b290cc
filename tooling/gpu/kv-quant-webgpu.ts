/**
 * The WebGPU part of the kv-quant GPU check (kv-quant-check.ts): bit-exact parity of kv-quant's WGSL
 * kernels with its CPU kernels (packages/kv-quant/test/gpu-parity-cases.ts + gpu-edge-cases.ts, the
 * cases the SwiftShader suite runs), then their throughput at 32 heads × 8192 tokens × 128 dims (f16
 * input) next to a copy of the same bytes measured in the same run, with GPU timestamps.
 * On the GPU machine Dawn comes from KVKIT_DAWN_NODE (the bundle has no node_modules); here, from
 * npm `webgpu` on SwiftShader (`small`: tiny sizes, numbers meaningless).
 */
import { createRng, type Rng, randomUniform, type Tensor, tensor, transpose } from '@kvkit/tensor-core';
import { createWebGpuBackend, runMap, type WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { dequantizeFp8, dequantizeUniform, quantizeFp8, quantizeUniform, type UniformQuantAttrs } from '../../packages/kv-quant/src/index.js';
import { gpuEdgeCases } from '../../packages/kv-quant/test/gpu-edge-cases.js';
import { gpuLutCases } from '../../packages/kv-quant/test/gpu-lut-cases.js';
import { gpuParityCases } from '../../packages/kv-quant/test/gpu-parity-cases.js';
import { gpuRotationCases } from '../../packages/kv-quant/test/gpu-rotation-cases.js';
import { timeWebGpuMs } from './device-timer.js';

export interface WebGpuSection {
  adapter?: string;
  compileMs?: number;
  parity: Record<string, string>;
  throughput?: { shape: number[]; inputDType: 'f16'; note: string; gbps: Record<string, number>; ms: Record<string, number> };
}

type Step = <T>(name: string, limitMs: number, body: () => Promise<T>) => Promise<T | undefined>;

async function openBackend(): Promise<WebGpuBackend> {
  // Unquantized timestamps (Dawn rounds them to 100 µs by default).
  const flags = ['disable-dawn-features=timestamp_quantization'];
  const options = { adapter: { powerPreference: 'high-performance' as const }, maxPooledBytes: 4 * 2 ** 30 };
  // KVKIT_DAWN_NODE (the GPU machine's bundle has no node_modules) is honoured by the backend itself.
  return createWebGpuBackend({ dawnFlags: flags, ...options });
}


function disposeAll(q: { codes: Tensor; scale: Tensor; zero?: Tensor }): void {
  q.codes.dispose();
  q.scale.dispose();
  q.zero?.dispose();
}

async function throughput(backend: WebGpuBackend, rng: Rng, small: boolean, section: WebGpuSection): Promise<void> {
  const [heads, tokens, dims] = small ? [2, 64, 128] : [32, 8192, 128];
  const reps = small ? 1 : 10;
  const gbps: Record<string, number> = {};
  const ms: Record<string, number> = {};
  section.throughput = {
    shape: [heads, tokens, dims],
    inputDType: 'f16',
    note: 'quantize: GB/s of f16 input read; dequantize: of f32 output written; copy: read + written',
    gbps,
    ms,
  };
  const x = randomUniform([heads, tokens, dims], rng, { dtype: 'f16', low: -2, high: 2, backend });
  const xBytes = x.size * 2;
  const record = (name: string, bytes: number, time: number) => {
    ms[name] = time;
    gbps[name] = bytes / (time / 1000) / 1e9;
  };
  const copy = () =>
    runMap(backend, { key: 'copy', shape: x.shape, operands: [{ name: 'x', tensor: x }], dtype: x.dtype, raw: true, value: 'fn value(i: u32) -> u32 { return x_raw(x_index(i)); }' }).dispose();
  record('copy f16 (reference)', 2 * xBytes, await timeWebGpuMs(backend, reps, copy));
  const cases: [string, UniformQuantAttrs, boolean][] = [
    ['quantize asym 4-bit, per-token g128', { bits: 4, groupSize: 128, symmetric: false, paramDType: 'f16' }, false],
    ['quantize asym 2-bit, per-token g32', { bits: 2, groupSize: 32, symmetric: false, paramDType: 'f16' }, false],
    ['quantize sym 8-bit, per-token g128', { bits: 8, groupSize: 128, symmetric: true, paramDType: 'f32' }, false],
    ['quantize asym 2-bit, per-channel g32 (KIVI keys, strided read)', { bits: 2, groupSize: 32, symmetric: false, paramDType: 'f16' }, true],
  ];
  for (const [name, attrs, perChannel] of cases) {
    const input = perChannel ? transpose(x, [0, 2, 1]) : x;
    record(name, xBytes, await timeWebGpuMs(backend, reps, () => disposeAll(quantizeUniform(input, attrs))));
  }
  const attrs = cases[0][1];
  const q = quantizeUniform(x, attrs);
  record('dequantize asym 4-bit g128 (f32 written)', x.size * 4, await timeWebGpuMs(backend, reps, () => dequantizeUniform(q, dims, attrs).dispose()));
  disposeAll(q);
  const scale = tensor(new Float32Array(heads).fill(0.01), [heads], { backend });
  record('quantize fp8 e4m3, per-head scale', xBytes, await timeWebGpuMs(backend, reps, () => quantizeFp8(x, scale, 'e4m3').dispose()));
  const codes = quantizeFp8(x, scale, 'e4m3');
  record('dequantize fp8 e4m3 (f32 written)', x.size * 4, await timeWebGpuMs(backend, reps, () => dequantizeFp8(codes, scale, 'e4m3', dims).dispose()));
  codes.dispose();
  scale.dispose();
  x.dispose();
}

/** Runs the WebGPU checks as time-bounded steps; fills `section`. */
export async function webgpuChecks(step: Step, seed: number, small: boolean, section: WebGpuSection): Promise<void> {
  const backend = await step('webgpu: device', 20_000, openBackend);
  if (!backend) return;
  try {
    section.adapter = [backend.info.vendor, backend.info.architecture, backend.info.description].filter(Boolean).join(' ');
    const rng = createRng(seed);
    await step('webgpu: parity', 60_000, async () => {
      for (const c of [...gpuParityCases(), ...gpuEdgeCases(), ...gpuLutCases(), ...gpuRotationCases()]) {
        try {
          section.parity[c.name] = (await c.run(backend, rng)) ?? 'exact';
        } catch (error) {
          section.parity[c.name] = `error: ${error instanceof Error ? error.message : String(error)}`;
        }
      }
      section.compileMs = Math.round(backend.pipelineStats().compileMs);
    });
    await step('webgpu: throughput', 60_000, () => throughput(backend, rng, small, section));
  } finally {
    backend.dispose();
  }
}

/** Markdown rows of the WebGPU section. */
export function webgpuRows(section: WebGpuSection): string[] {
  const entries = Object.entries(section.parity);
  const exact = entries.filter(([, v]) => v === 'exact').length;
  const lines = [`| WebGPU${section.adapter ? ` (${section.adapter})` : ''} parity (bit-exact vs CPU) | ${exact}/${entries.length} cases exact |`];
  for (const [name, v] of entries) if (v !== 'exact') lines.push(`| ✗ WebGPU ${name} | ${v} |`);
  const t = section.throughput?.gbps ?? {};
  const copy = t['copy f16 (reference)'];
  for (const [name, v] of Object.entries(t)) {
    const share = copy && name !== 'copy f16 (reference)' ? ` (${((100 * v) / copy).toFixed(0)}% of copy)` : '';
    lines.push(`| WebGPU ${name} | ${v.toFixed(1)} GB/s${share} |`);
  }
  return lines;
}
