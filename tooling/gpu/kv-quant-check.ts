/**
 * The kv-quant GPU check (bundled by kv-quant-check.sh into one file; no npm on the GPU machine):
 *   1. parity of every kv-quant CUDA kernel (uniform, fp8, LUT, outliers) with its CPU kernel, bit for bit, on fresh random inputs
 *      (the cases of packages/kv-quant/test/gpu-parity-cases.ts and gpu-edge-cases.ts, which the emulator suite also runs);
 *   2. quantize/dequantize throughput at a realistic KV size (32 heads × 8192 tokens × 128 dims, f16)
 *      in GB/s of input read, next to the measured device copy bandwidth.
 *   3. the same parity cases (plus the edge cases of gpu-edge-cases.ts) and throughput for kv-quant's WGSL
 *      kernels on WebGPU (Dawn on the NVIDIA Vulkan driver; kv-quant-webgpu.ts).
 * Every step is time-bounded and failure-tolerant: a failing step is recorded and the next one runs.
 * Writes <out>/kv-quant/kv-quant.json and prints a markdown table last.
 *   --emulate   the CUDA CPU emulator and WebGPU on SwiftShader, tiny sizes (a dry run of the script here)
 *   --skip-cuda / --skip-webgpu   leave a section out
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { timeDeviceMs } from './device-timer.js';
import { contiguous, createRng, randomUniform, resolveBackend, type Tensor, tensor, toBackend, transpose } from '@kvkit/tensor-core';
import { type CudaBackend, registerCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { dequantizeUniform, quantizeFp8, quantizeUniform, type UniformQuantAttrs } from '../../packages/kv-quant/src/index.js';
import { fp8CudaModule } from '../../packages/kv-quant/src/cuda/fp8.js';
import { lutCudaModule } from '../../packages/kv-quant/src/cuda/lut.js';
import { outliersCudaModule } from '../../packages/kv-quant/src/cuda/outliers.js';
import { uniformCudaModule } from '../../packages/kv-quant/src/cuda/uniform.js';
import { hadamardCudaModule } from '../../packages/kv-quant/src/cuda/hadamard.js';
import { vectorCudaModule } from '../../packages/kv-quant/src/cuda/vector.js';
import { gpuEdgeCases } from '../../packages/kv-quant/test/gpu-edge-cases.js';
import { gpuLutCases } from '../../packages/kv-quant/test/gpu-lut-cases.js';
import { gpuParityCases } from '../../packages/kv-quant/test/gpu-parity-cases.js';
import { gpuRotationCases } from '../../packages/kv-quant/test/gpu-rotation-cases.js';
import { type WebGpuSection, webgpuChecks, webgpuRows } from './kv-quant-webgpu.js';

const argv = process.argv;
const outRoot = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : (process.env.OUT ?? '.');
const emulate = argv.includes('--emulate');
const outDir = join(outRoot, 'kv-quant');
mkdirSync(outDir, { recursive: true });
const seed = freshSeed();
const webgpu: WebGpuSection = { parity: {} };
const report: Record<string, unknown> = { date: new Date().toISOString(), seed, emulate, webgpu };
const save = (): void => writeFileSync(join(outDir, 'kv-quant.json'), JSON.stringify(report, null, 2));
const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;

/** Runs a step with a time limit; records its result or its failure, never throws. */
async function step<T>(name: string, limitMs: number, body: () => Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      body(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${limitMs} ms`)), limitMs);
      }),
    ]);
    console.log(`[${elapsed()}] ${name}: ok`);
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    (report.failures as Record<string, string>)[name] = message;
    console.log(`[${elapsed()}] ${name}: FAILED ${message}`);
    return undefined;
  } finally {
    clearTimeout(timer);
    save();
  }
}
report.failures = {};


async function main(): Promise<void> {
  const runtime = loadCudaRuntime({ emulate });
  registerCudaBackend({ runtime: () => runtime });
  const cuda = (await resolveBackend('cuda')) as CudaBackend;
  report.device = runtime.device;
  await step('compile', 20_000, async () => {
    const t0 = performance.now();
    for (const module of [uniformCudaModule, fp8CudaModule, lutCudaModule, outliersCudaModule, hadamardCudaModule, vectorCudaModule]) cuda.module(module);
    report.compileMs = Math.round(performance.now() - t0);
  });

  const parity: Record<string, string> = {};
  report.parity = parity;
  const rng = createRng(seed);
  await step('parity', 20_000, async () => {
    for (const c of [...gpuParityCases(), ...gpuEdgeCases(), ...gpuLutCases(), ...gpuRotationCases()]) {
      try {
        parity[c.name] = (await c.run(cuda, rng)) ?? 'exact';
      } catch (error) {
        parity[c.name] = `error: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  });

  const [heads, tokens, dims] = emulate ? [2, 64, 128] : [32, 8192, 128];
  const throughput: Record<string, number> = {};
  report.throughput = { shape: [heads, tokens, dims], inputDType: 'f16', gbps: throughput };
  const reps = emulate ? 1 : 10;
  await step('throughput', 15_000, async () => {
    const x = await toBackend(randomUniform([heads, tokens, dims], rng, { dtype: 'f16', low: -2, high: 2 }), cuda);
    const xBytes = x.size * 2;
    const gbps = (bytes: number, ms: number) => bytes / (ms / 1000) / 1e9;
    throughput['copy f16 (reference)'] = gbps(2 * xBytes, await timeDeviceMs(runtime, cuda, reps, () => contiguous(x).dispose()));
    const cases: [string, UniformQuantAttrs, boolean][] = [
      ['quantize asym 4-bit, per-token g128', { bits: 4, groupSize: 128, symmetric: false, paramDType: 'f16' }, false],
      ['quantize asym 2-bit, per-token g32', { bits: 2, groupSize: 32, symmetric: false, paramDType: 'f16' }, false],
      ['quantize sym 8-bit, per-token g128', { bits: 8, groupSize: 128, symmetric: true, paramDType: 'f32' }, false],
      ['quantize asym 2-bit, per-channel g32 (KIVI keys, incl. transpose)', { bits: 2, groupSize: 32, symmetric: false, paramDType: 'f16' }, true],
    ];
    const dispose = (q: { codes: Tensor; scale: Tensor; zero?: Tensor }) => {
      q.codes.dispose();
      q.scale.dispose();
      q.zero?.dispose();
    };
    for (const [name, attrs, perChannel] of cases) {
      const input = perChannel ? transpose(x, [0, 2, 1]) : x;
      throughput[name] = gbps(xBytes, await timeDeviceMs(runtime, cuda, reps, () => dispose(quantizeUniform(input, attrs))));
    }
    const attrs = cases[0][1];
    const q = quantizeUniform(x, attrs);
    // Dequantize: GB/s of the f32 output written (its input is the packed codes).
    throughput['dequantize asym 4-bit g128 (f32 written)'] = gbps(x.size * 4, await timeDeviceMs(runtime, cuda, reps, () => dequantizeUniform(q, dims, attrs).dispose()));
    dispose(q);
    const scale = await toBackend(tensor(new Float32Array(heads).fill(0.01), [heads]), cuda);
    throughput['quantize fp8 e4m3, per-head scale'] = gbps(xBytes, await timeDeviceMs(runtime, cuda, reps, () => quantizeFp8(x, scale, 'e4m3').dispose()));
    scale.dispose();
    x.dispose();
  });
}

function table(): string {
  const parity = (report.parity ?? {}) as Record<string, string>;
  const exact = Object.values(parity).filter((v) => v === 'exact').length;
  const lines = [
    `| kv-quant on CUDA (${emulate ? 'emulator' : 'device'}, seed ${seed}) | result |`,
    '|---|---|',
    `| parity (bit-exact vs CPU) | ${exact}/${Object.keys(parity).length} cases exact |`,
  ];
  for (const [name, v] of Object.entries(parity)) if (v !== 'exact') lines.push(`| ✗ ${name} | ${v} |`);
  const t = ((report.throughput ?? {}) as { gbps?: Record<string, number> }).gbps ?? {};
  const copy = t['copy f16 (reference)'];
  for (const [name, v] of Object.entries(t)) lines.push(`| ${name} | ${v.toFixed(1)} GB/s${copy && name !== 'copy f16 (reference)' ? ` (${((100 * v) / copy).toFixed(0)}% of copy)` : ''} |`);
  lines.push(...webgpuRows(webgpu));
  for (const [name, v] of Object.entries(report.failures as Record<string, string>)) lines.push(`| step ${name} failed | ${v} |`);
  return lines.join('\n');
}

async function all(): Promise<void> {
  if (!argv.includes('--skip-cuda')) {
    await main().catch((error) => {
      (report.failures as Record<string, string>).main = error instanceof Error ? error.message : String(error);
    });
  }
  if (!argv.includes('--skip-webgpu')) await webgpuChecks(step, seed, emulate, webgpu);
}

all()
  .catch((error) => {
    (report.failures as Record<string, string>).all = error instanceof Error ? error.message : String(error);
  })
  .finally(() => {
    save();
    console.log(table());
    process.exit(0);
  });
