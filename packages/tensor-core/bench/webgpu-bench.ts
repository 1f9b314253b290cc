/**
 * WebGPU on a real GPU: the parity suite (every kernel against the CPU backend), then f32 matmul
 * TFLOP/s at 1024–8192 (each product spot-checked against float64 dot products) and memory-bound
 * kernels in GB/s. A benchmark, not a test: tooling/gpu/webgpu-check.sh runs it on the GPU machine
 * next to PyTorch; it also runs anywhere Dawn finds an adapter (on SwiftShader: functional only).
 *
 *   node --import tsx bench/webgpu-bench.ts [--out DIR] [--quick]
 *
 * KVKIT_DAWN_NODE=/path/dawn.node loads Dawn directly (the bundle on the GPU machine has no
 * node_modules); otherwise the `webgpu` package is used.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { add, contiguous, createRng, matmul, type Tensor, tensor } from '../src/index.js';
import { freshSeed } from '../src/testing/index.js';
import { createWebGpuBackend, runMap, type WebGpuBackend } from '../src/webgpu/index.js';
import { FULL, PARITY_CASES } from '../test/webgpu/parity-cases.js';

const args = process.argv.slice(2);
const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
const quick = args.includes('--quick');

interface DawnModule {
  create(flags: string[]): GPU;
}

async function openBackend(): Promise<WebGpuBackend> {
  // Timestamps unquantized (Dawn rounds them to 100 µs by default).
  const flags = ['disable-dawn-features=timestamp_quantization'];
  const dawnPath = process.env.KVKIT_DAWN_NODE;
  if (dawnPath) {
    const dawn = createRequire(import.meta.url)(dawnPath) as DawnModule;
    return createWebGpuBackend({ gpu: dawn.create(flags), adapter: { powerPreference: 'high-performance' } });
  }
  return createWebGpuBackend({ dawnFlags: flags, adapter: { powerPreference: 'high-performance' } });
}

/** Uniform [-1, 1) values from a fast xorshift (host data for large operands). */
function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2147483648 - 1;
  }
  return out;
}

/** GPU ms per repetition of `body` (timestamp-query when present, wall time otherwise), after a warm-up. */
async function timePerRep(backend: WebGpuBackend, reps: number, body: () => Tensor): Promise<{ gpuMs: number | undefined; wallMs: number }> {
  body().dispose();
  await backend.synchronize();
  const timing = await backend.timeGpu(() => {
    for (let r = 0; r < reps; r++) body().dispose();
  });
  return { gpuMs: timing.gpuMs === undefined ? undefined : timing.gpuMs / reps, wallMs: timing.wallMs / reps };
}

async function parity(backend: WebGpuBackend): Promise<{ name: string; ok: boolean; ms: number; error?: string }[]> {
  const seed = freshSeed();
  const results = [];
  for (const [i, testCase] of PARITY_CASES.entries()) {
    const started = performance.now();
    try {
      await testCase.run(backend, createRng((seed + i) >>> 0), FULL);
      results.push({ name: testCase.name, ok: true, ms: performance.now() - started });
    } catch (error) {
      results.push({ name: testCase.name, ok: false, ms: performance.now() - started, error: `${(error as Error).message} [seed ${seed + i}]` });
    }
  }
  return results;
}

async function matmulRun(backend: WebGpuBackend, n: number) {
  const a = fill(n * n, 12345 + n);
  const b = fill(n * n, 54321 + n);
  const ta = tensor(a, [n, n], { backend });
  const tb = tensor(b, [n, n], { backend });
  // Spot check 64 entries against float64 dot products.
  const c = matmul(ta, tb);
  const values = await c.read();
  c.dispose();
  const rng = createRng(n);
  let diff = 0;
  let norm = 0;
  for (let s = 0; s < 64; s++) {
    const i = rng.int(n);
    const j = rng.int(n);
    let ref = 0;
    for (let p = 0; p < n; p++) ref += a[i * n + p] * b[p * n + j];
    diff += (values[i * n + j] - ref) ** 2;
    norm += ref * ref;
  }
  const reps = Math.max(3, Math.min(50, Math.round(2e11 / n ** 3)));
  const time = await timePerRep(backend, reps, () => matmul(ta, tb));
  ta.dispose();
  tb.dispose();
  const ms = time.gpuMs ?? time.wallMs;
  return { n, reps, gpuMs: time.gpuMs, wallMs: time.wallMs, tflops: (2 * n ** 3) / (ms * 1e-3) / 1e12, spotRelativeError: Math.sqrt(diff / norm) };
}

async function bandwidthRuns(backend: WebGpuBackend, elements: number) {
  const x = tensor(fill(elements, 7), [elements], { backend });
  const y = tensor(fill(elements, 8), [elements], { backend });
  const xh = tensor(new Uint16Array(elements).fill(0x3c00), [elements], { dtype: 'f16', backend });
  const yh = tensor(new Uint16Array(elements).fill(0x4000), [elements], { dtype: 'f16', backend });
  const copyKernel = (t: Tensor) =>
    runMap(backend, { key: 'copy', shape: t.shape, operands: [{ name: 'x', tensor: t }], dtype: t.dtype, raw: true, value: 'fn value(i: u32) -> u32 { return x_raw(x_index(i)); }' });
  const runs: { op: string; bytes: number; body: () => Tensor }[] = [
    { op: 'add f32 (a + b)', bytes: 12 * elements, body: () => add(x, y) },
    { op: 'add f16 (a + b)', bytes: 6 * elements, body: () => add(xh, yh) },
    { op: 'copy kernel f32', bytes: 8 * elements, body: () => copyKernel(x) },
    { op: 'copy DMA f32 (copyBufferToBuffer)', bytes: 8 * elements, body: () => contiguous(x) },
  ];
  const results = [];
  for (const run of runs) {
    const time = await timePerRep(backend, 20, run.body);
    const ms = time.gpuMs ?? time.wallMs;
    results.push({ op: run.op, elements, bytes: run.bytes, gpuMs: time.gpuMs, wallMs: time.wallMs, gbps: run.bytes / (ms * 1e-3) / 1e9 });
  }
  for (const t of [x, y, xh, yh]) t.dispose();
  return results;
}

async function main(): Promise<void> {
  const backend = await openBackend();
  try {
    const device = { ...backend.info, features: [...backend.features].sort(), maxBufferBytes: backend.maxBufferBytes, nativeF16: backend.nativeF16 };
    console.log(`device: ${device.vendor} ${device.architecture} ${device.description}; timestamp-query: ${backend.features.has('timestamp-query')}`);
    const parityResults = await parity(backend);
    const failed = parityResults.filter((r) => !r.ok);
    console.log(`parity: ${parityResults.length - failed.length}/${parityResults.length} cases pass`);
    for (const f of failed) console.log(`  FAIL ${f.name}: ${f.error}`);
    const sizes = quick ? [256, 512] : [1024, 2048, 4096, 8192];
    const matmuls = [];
    for (const n of sizes) {
      const result = await matmulRun(backend, n);
      matmuls.push(result);
      console.log(`matmul f32 ${n}³: ${result.tflops.toFixed(2)} TFLOP/s (spot error ${result.spotRelativeError.toExponential(1)})`);
    }
    const bandwidth = await bandwidthRuns(backend, quick ? 1 << 20 : 1 << 26);
    for (const r of bandwidth) console.log(`${r.op}: ${r.gbps.toFixed(1)} GB/s`);
    const report = { date: new Date().toISOString(), device, pipelines: backend.pipelineStats(), parity: parityResults, matmul: matmuls, bandwidth };
    if (outDir) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, 'webgpu.json'), `${JSON.stringify(report, null, 2)}\n`);
    }
    if (failed.length > 0) process.exitCode = 1;
  } finally {
    backend.dispose();
  }
}

await main();
