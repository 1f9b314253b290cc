/**
 * WebGPU on a real GPU: the parity suite (every kernel against the CPU backend), then f32 matmul
 * TFLOP/s at 1024–8192 (each product spot-checked against float64 dot products) and memory-bound
 * kernels in GB/s, with PyTorch's numbers beside them when DIR/torch.json (tooling/gpu/torch_baseline.py,
 * same run) exists. A benchmark, not a test: tooling/gpu/webgpu-check.sh runs it on the GPU machine;
 * it also runs anywhere Dawn finds an adapter (on SwiftShader: functional only).
 *
 *   node --import tsx bench/webgpu-bench.ts [--out DIR] [--quick]
 *
 * KVKIT_DAWN_NODE=/path/dawn.node loads Dawn directly (the bundle on the GPU machine has no
 * node_modules); otherwise the `webgpu` package is used.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { add, contiguous, createRng, matmul, type Tensor, tensor } from '../src/index.js';
import { freshSeed } from '../src/testing/index.js';
import { createWebGpuBackend, runMap, type WebGpuBackend } from '../src/webgpu/index.js';
import { FULL, runParityCases } from '../test/webgpu/parity-cases.js';

const args = process.argv.slice(2);
const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
const quick = args.includes('--quick');

async function openBackend(): Promise<WebGpuBackend> {
  // Timestamps unquantized (Dawn rounds them to 100 µs by default).
  const flags = ['disable-dawn-features=timestamp_quantization'];
  // A pool large enough to keep the 1 GiB operands of the bandwidth runs, so repetitions reuse buffers.
  const options = { adapter: { powerPreference: 'high-performance' as const }, maxPooledBytes: 16 * 2 ** 30 };
  // KVKIT_DAWN_NODE (the GPU machine's bundle has no node_modules) is honoured by the backend itself.
  return createWebGpuBackend({ dawnFlags: flags, ...options });
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

/**
 * GPU ms per repetition of `body` (timestamp-query when present, wall time otherwise), after a
 * warm-up. Each repetition is submitted on its own, so its output buffer returns to the pool and the
 * next one reuses it (no allocation or lazy clearing inside the measurement).
 */
async function timePerRep(backend: WebGpuBackend, reps: number, body: () => Tensor): Promise<{ gpuMs: number | undefined; wallMs: number }> {
  body().dispose();
  await backend.synchronize();
  const timing = await backend.timeGpu(() => {
    for (let r = 0; r < reps; r++) {
      body().dispose();
      backend.flush();
    }
  });
  return { gpuMs: timing.gpuMs === undefined ? undefined : timing.gpuMs / reps, wallMs: timing.wallMs / reps };
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

/** GB/s counting the bytes read + written once (the convention of torch_baseline.py). */
async function bandwidthRuns(backend: WebGpuBackend, elements: number) {
  const x = tensor(fill(elements, 7), [elements], { backend });
  const y = tensor(fill(elements, 8), [elements], { backend });
  const xh = tensor(new Uint16Array(elements).fill(0x3c00), [elements], { dtype: 'f16', backend });
  const yh = tensor(new Uint16Array(elements).fill(0x4000), [elements], { dtype: 'f16', backend });
  const copyKernel = (t: Tensor) =>
    runMap(backend, { key: 'copy', shape: t.shape, operands: [{ name: 'x', tensor: t }], dtype: t.dtype, raw: true, value: 'fn value(i: u32) -> u32 { return x_raw(x_index(i)); }' });
  const runs: { op: string; bytes: number; body: () => Tensor }[] = [
    { op: 'copy f32 (kernel)', bytes: 8 * elements, body: () => copyKernel(x) },
    { op: 'copy f32 (copy engine)', bytes: 8 * elements, body: () => contiguous(x) },
    { op: 'add f32', bytes: 12 * elements, body: () => add(x, y) },
    { op: 'add f16', bytes: 6 * elements, body: () => add(xh, yh) },
  ];
  const results: Record<string, { gbps: number; gpuMs: number | undefined; wallMs: number }> = {};
  for (const run of runs) {
    const time = await timePerRep(backend, 10, run.body);
    const ms = time.gpuMs ?? time.wallMs;
    results[run.op] = { gbps: run.bytes / (ms * 1e-3) / 1e9, gpuMs: time.gpuMs, wallMs: time.wallMs };
  }
  for (const t of [x, y, xh, yh]) t.dispose();
  return results;
}

interface TorchReport {
  device?: string;
  matmulTflops?: Record<string, number>;
  bandwidthGBps?: Record<string, number>;
}

function table(report: { parity: { ok: boolean }[]; matmul: { n: number; tflops: number; spotRelativeError: number }[]; bandwidth: Record<string, { gbps: number }> }, torch: TorchReport): string {
  const copy = torch.bandwidthGBps?.['copy f32'] ?? report.bandwidth['copy f32 (copy engine)'].gbps;
  const passed = report.parity.filter((r) => r.ok).length;
  return [
    '',
    `parity with the CPU backend: ${passed}/${report.parity.length} cases`,
    '',
    '| matmul f32 | WebGPU TFLOP/s | torch TFLOP/s (TF32 off) | WebGPU / torch | spot rel. error |',
    '|---|---|---|---|---|',
    ...report.matmul.map(({ n, tflops, spotRelativeError }) => {
      const t = torch.matmulTflops?.[`f32 ${n}`];
      return `| ${n}³ | ${tflops.toFixed(2)} | ${t?.toFixed(1) ?? '—'} | ${t ? `${((100 * tflops) / t).toFixed(0)}%` : '—'} | ${spotRelativeError.toExponential(1)} |`;
    }),
    '',
    `| memory-bound op | WebGPU GB/s | % of torch copy (${copy.toFixed(0)} GB/s) | torch GB/s |`,
    '|---|---|---|---|',
    ...Object.entries(report.bandwidth).map(([op, { gbps }]) => {
      const t = torch.bandwidthGBps?.[op.split(' (')[0]];
      return `| ${op} | ${gbps.toFixed(0)} | ${((100 * gbps) / copy).toFixed(0)}% | ${t?.toFixed(0) ?? '—'} |`;
    }),
  ].join('\n');
}

async function main(): Promise<void> {
  const backend = await openBackend();
  try {
    const device = { ...backend.info, features: [...backend.features].sort(), maxBufferBytes: backend.maxBufferBytes, nativeF16: backend.nativeF16 };
    console.log(`device: ${device.vendor} ${device.architecture} ${device.description}; timestamp-query: ${backend.features.has('timestamp-query')}`);
    const parityResults = await runParityCases(backend, freshSeed(), FULL);
    const failed = parityResults.filter((r) => !r.ok);
    console.log(`parity: ${parityResults.length - failed.length}/${parityResults.length} cases pass`);
    for (const f of failed) console.log(`  FAIL ${f.name}: ${f.error}`);
    const matmuls = [];
    for (const n of quick ? [256, 512] : [1024, 2048, 4096, 8192]) {
      const result = await matmulRun(backend, n);
      matmuls.push(result);
      console.log(`matmul f32 ${n}³: ${result.tflops.toFixed(2)} TFLOP/s (spot error ${result.spotRelativeError.toExponential(1)})`);
    }
    const bandwidth = await bandwidthRuns(backend, quick ? 1 << 20 : 1 << 28);
    for (const [op, r] of Object.entries(bandwidth)) console.log(`${op}: ${r.gbps.toFixed(1)} GB/s`);
    const report = { date: new Date().toISOString(), device, pipelines: backend.pipelineStats(), parity: parityResults, matmul: matmuls, bandwidth };
    const torchFile = outDir ? join(outDir, 'torch.json') : undefined;
    const torch = torchFile && existsSync(torchFile) ? (JSON.parse(readFileSync(torchFile, 'utf8')) as TorchReport) : {};
    const printed = table(report, torch);
    if (outDir) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, 'webgpu.json'), `${JSON.stringify({ ...report, torchDevice: torch.device, table: printed }, null, 2)}\n`);
    }
    console.log(printed);
    if (failed.length > 0) process.exitCode = 1;
  } finally {
    backend.dispose();
  }
}

await main();
