/**
 * WebGPU on a real GPU: the parity suite (every kernel against the CPU backend), then f32 matmul
 * TFLOP/s at 1024–8192 (each product spot-checked against float64 dot products) and memory-bound
 * kernels in GB/s, with PyTorch's numbers beside them when DIR/torch.json (tooling/gpu/torch_baseline.py,
 * same run) exists. A benchmark, not a test: tooling/gpu/webgpu-check.sh runs it on the GPU machine;
 * it also runs anywhere Dawn finds an adapter (on SwiftShader: functional only).
 *
 *   node --import tsx bench/webgpu-bench.ts [--out DIR] [--quick] [--clocks nvidia-smi.csv]
 *     [--sections parity,matmul,bandwidth] [--sms 132] [--warmup-ms 300] [--timed-ms 300]
 *
 * The memory-bound section (memory-bound.ts) times every row sustained and prints the GPU clocks
 * of its timed window from the nvidia-smi samples in --clocks; its table comes last.
 *
 * KVKIT_DAWN_NODE=/path/dawn.node loads Dawn directly (the bundle on the GPU machine has no
 * node_modules); otherwise the `webgpu` package is used.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng, matmul, type Tensor, tensor } from '../src/index.js';
import { freshSeed } from '../src/testing/index.js';
import { createWebGpuBackend, type WebGpuBackend } from '../src/webgpu/index.js';
import { FULL, runParityCases } from '../test/webgpu/parity-cases.js';
import { clocksDuring, formatRange, readClockSamples } from './gpu-clocks.js';
import { attachClocks, memoryBoundRows, memoryBoundTable, type TorchBandwidth } from './memory-bound.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const number = (name: string, fallback: number) => Number(option(name) ?? fallback);
const outDir = option('--out');
const quick = args.includes('--quick');
const clocksFile = option('--clocks');
const sections = new Set((option('--sections') ?? 'parity,matmul,bandwidth').split(','));
// Timestamps unquantized (Dawn rounds them to 100 µs by default).
const DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization'];

async function openBackend(): Promise<WebGpuBackend> {
  const flags = DAWN_FLAGS;
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
async function timePerRep(backend: WebGpuBackend, reps: number, body: () => Tensor, warmupMs: number): Promise<{ gpuMs: number | undefined; wallMs: number }> {
  // Sustained work first: the 2026-11-27 H200 run timed the matmuls after one call each, at the
  // idle SM clock (345 MHz of 1980), and got a fifth of the rate of the run before.
  const warmUntil = performance.now() + warmupMs;
  do {
    for (let r = 0; r < 4; r++) {
      body().dispose();
      backend.flush();
    }
    await backend.synchronize();
  } while (performance.now() < warmUntil);
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
  // About 2 TFLOP per timing (≥ 60 ms at the H200's f32 rate), 3 to 200 repetitions.
  const reps = Math.max(3, Math.min(200, Math.round(2e12 / n ** 3)));
  const time = await timePerRep(backend, reps, () => matmul(ta, tb), number('--warmup-ms', quick ? 0 : 300));
  ta.dispose();
  tb.dispose();
  const ms = time.gpuMs ?? time.wallMs;
  return { n, reps, gpuMs: time.gpuMs, wallMs: time.wallMs, tflops: (2 * n ** 3) / (ms * 1e-3) / 1e12, spotRelativeError: Math.sqrt(diff / norm) };
}

interface TorchReport extends TorchBandwidth {
  device?: string;
  matmulTflops?: Record<string, number>;
}

function matmulTable(parity: { ok: boolean }[], matmuls: { n: number; tflops: number; spotRelativeError: number }[], torch: TorchReport): string {
  const passed = parity.filter((r) => r.ok).length;
  const head = `parity with the CPU backend: ${parity.length ? `${passed}/${parity.length} cases` : 'not run'}`;
  if (matmuls.length === 0) return `${head}\nmatmul: not run`;
  return [
    head,
    '',
    '| matmul f32 | WebGPU TFLOP/s | torch TFLOP/s (TF32 off) | WebGPU / torch | spot rel. error |',
    '|---|---|---|---|---|',
    ...matmuls.map(({ n, tflops, spotRelativeError }) => {
      const t = torch.matmulTflops?.[`f32 ${n}`];
      return `| ${n}³ | ${tflops.toFixed(2)} | ${t?.toFixed(1) ?? '—'} | ${t ? `${((100 * tflops) / t).toFixed(0)}%` : '—'} | ${spotRelativeError.toExponential(1)} |`;
    }),
  ].join('\n');
}

async function main(): Promise<void> {
  const backend = await openBackend();
  try {
    const device = { ...backend.info, features: [...backend.features].sort(), maxBufferBytes: backend.maxBufferBytes, nativeF16: backend.nativeF16 };
    console.log(`device: ${device.vendor} ${device.architecture} ${device.description}; timestamp-query: ${backend.features.has('timestamp-query')}`);
    const phases: { name: string; window: [number, number] }[] = [];
    const phase = async <T>(name: string, body: () => Promise<T>): Promise<T> => {
      const start = Date.now();
      console.log(`phase ${name} starts ${new Date(start).toISOString()}`);
      try {
        return await body();
      } finally {
        phases.push({ name, window: [start, Date.now()] });
      }
    };
    const parityResults = sections.has('parity') ? await phase('parity', () => runParityCases(backend, freshSeed(), FULL)) : [];
    const failed = parityResults.filter((r) => !r.ok);
    console.log(`parity: ${parityResults.length - failed.length}/${parityResults.length} cases pass`);
    for (const f of failed) console.log(`  FAIL ${f.name}: ${f.error}`);
    const matmuls = [];
    if (sections.has('matmul')) {
      for (const n of quick ? [256, 512] : [1024, 2048, 4096, 8192]) {
        const result = await phase(`matmul ${n}`, () => matmulRun(backend, n));
        matmuls.push(result);
        console.log(`matmul f32 ${n}³: ${result.tflops.toFixed(2)} TFLOP/s (spot error ${result.spotRelativeError.toExponential(1)})`);
      }
    }
    const elements = quick ? 1 << 20 : 1 << 28;
    const timing = { warmupMs: number('--warmup-ms', quick ? 0 : 300), timedMs: number('--timed-ms', quick ? 0 : 300), minReps: quick ? 2 : 20, maxReps: 2000 };
    const memory = sections.has('bandwidth')
      ? await phase('memory-bound', () => memoryBoundRows(backend, { elements, timing, sms: number('--sms', 132), dawnFlags: DAWN_FLAGS, log: (line) => console.log(line) }))
      : { rows: [] };
    const torchFile = outDir ? join(outDir, 'torch.json') : undefined;
    const torch = torchFile && existsSync(torchFile) ? (JSON.parse(readFileSync(torchFile, 'utf8')) as TorchReport) : {};
    // nvidia-smi writes its samples line-buffered (webgpu-check.sh); give the last one a moment to land.
    if (clocksFile) await new Promise((resolve) => setTimeout(resolve, 300));
    const samples = readClockSamples(clocksFile);
    attachClocks(memory.rows, samples);
    const phaseClocks = phases.map((p) => ({ ...p, clocks: clocksDuring(samples, p.window[0], p.window[1]) }));
    for (const p of phaseClocks) {
      if (p.clocks) console.log(`clocks during ${p.name}: mem ${formatRange(p.clocks.memMHz)} MHz, SM ${formatRange(p.clocks.smMHz)} MHz, ${p.clocks.pstates}, ≤ ${p.clocks.maxPowerW.toFixed(0)} W`);
    }
    const printed = [
      '',
      matmulTable(parityResults, matmuls, torch),
      '',
      memory.rows.length ? memoryBoundTable(memory.rows, elements, torch, samples) : 'memory-bound rows: not run',
      memory.robustnessOff ? `robustness-off rows: ${memory.robustnessOff}` : '',
    ].join('\n');
    const report = {
      date: new Date().toISOString(),
      device,
      pipelines: backend.pipelineStats(),
      timing,
      clockSamples: samples.length,
      phases: phaseClocks,
      parity: parityResults,
      matmul: matmuls,
      bandwidth: memory.rows,
      robustnessOff: memory.robustnessOff,
    };
    if (outDir) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, 'webgpu.json'), `${JSON.stringify({ ...report, torchDevice: torch.device, table: printed }, null, 2)}\n`);
    }
    console.log(printed);
    if (failed.length > 0 || memory.rows.some((r) => (r.wrongWords ?? 0) > 0)) process.exitCode = 1;
  } finally {
    backend.dispose();
  }
}

await main();
