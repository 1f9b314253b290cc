/**
 * The memory-bound section of the WebGPU bench (issue 3: ≥ 70% of PyTorch's copy bandwidth). Every
 * row is timed sustained (sustained.ts) and carries the GPU clocks of its timed window when
 * nvidia-smi samples exist (gpu-clocks.ts):
 *
 * - kvkit rows: tensor-core's own kernels through the public API (the map-template copy, `add` f32
 *   and f16, `contiguous` through the copy engine), each also on views offset by one word so the
 *   generic scalar path runs next to the vectorized one;
 * - raw rows: kernel shapes against the device directly (raw-bandwidth.ts), the same again on a
 *   device with Dawn's robustness transform disabled (index clamps off).
 *
 * GB/s count the bytes read + written once, like tooling/gpu/torch_baseline.py.
 */
import { add, contiguous, type DType, type Tensor } from '../src/index.js';
import { createWebGpuBackend, runMap, type WebGpuBackend } from '../src/webgpu/index.js';
import { type ClockSample, type ClockSummary, clocksDuring, formatRange } from './gpu-clocks.js';
import { RawBandwidth, type RawVariant } from './raw-bandwidth.js';
import { type SustainOptions, type Sustained, sustainKvkit } from './sustained.js';

export interface BandwidthRow extends Sustained {
  name: string;
  /** 'kvkit' (public API), 'raw' (device directly), 'raw, robustness off'. */
  path: string;
  bytes: number;
  gbps: { median: number; best: number; mean: number; wall: number };
  wrongWords?: number;
  clocks?: ClockSummary;
}

export interface TorchBandwidth {
  bandwidthGBps?: Record<string, number>;
  bandwidthDetail?: Record<string, { medianMs: number; bestMs: number; meanMs: number; window: [number, number] }>;
}

export interface MemoryBoundOptions {
  elements: number;
  timing: SustainOptions;
  /** Workgroups of the grid-stride variants = this × 8 (H100/H200 SXM: 132 SMs). */
  sms: number;
  dawnFlags: string[];
  log: (line: string) => void;
}

function row(name: string, path: string, bytes: number, t: Sustained, wrongWords?: number): BandwidthRow {
  const gbps = (ms: number) => bytes / (ms * 1e-3) / 1e9;
  return { name, path, bytes, ...t, gbps: { median: gbps(t.medianMs), best: gbps(t.bestMs), mean: gbps(t.meanMs), wall: gbps(t.wallMs) }, wrongWords };
}

/** WGSL PCG hash → a nonzero float in [-0.5, 0.5): operands filled on the GPU, no host pause before timing. */
function gpuRandom(backend: WebGpuBackend, n: number, dtype: DType, seed: number): Tensor {
  return runMap(backend, {
    key: 'bench-random',
    shape: [n],
    operands: [],
    dtype,
    uniforms: { fields: [{ name: 'seed', type: 'u32' }], values: { seed } },
    value: `fn hash(i: u32) -> u32 {
  let s = i * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
fn value(i: u32) -> f32 { return f32((hash(i ^ u_seed()) >> 9u) | 1u) * 1.1920929e-7 - 0.5; }`,
  });
}

function copyKernel(backend: WebGpuBackend, t: Tensor): Tensor {
  return runMap(backend, { key: 'copy', shape: t.shape, operands: [{ name: 'x', tensor: t }], dtype: t.dtype, raw: true, value: 'fn value(i: u32) -> u32 { return x_raw(x_index(i)); }' });
}

/** tensor-core's kernels through the public API, on operands of `elements` (plus one word for the offset views). */
async function kvkitRows(backend: WebGpuBackend, options: MemoryBoundOptions): Promise<BandwidthRow[]> {
  const n = options.elements;
  const x = gpuRandom(backend, n + 4, 'f32', 1);
  const y = gpuRandom(backend, n + 4, 'f32', 2);
  const xh = gpuRandom(backend, n + 8, 'f16', 3);
  const yh = gpuRandom(backend, n + 8, 'f16', 4);
  // Aligned views take the vectorized map path; views one 32-bit word in take the generic one.
  const at = (t: Tensor, offset: number) => t.view([n], [1], offset);
  const [xa, ya, xo, yo] = [at(x, 0), at(y, 0), at(x, 1), at(y, 1)];
  const [xha, yha, xho, yho] = [at(xh, 0), at(yh, 0), at(xh, 2), at(yh, 2)];
  await backend.synchronize();
  const runs: { name: string; bytes: number; body: () => Tensor }[] = [
    { name: 'copy f32, map kernel (aligned: vectorized path)', bytes: 8 * n, body: () => copyKernel(backend, xa) },
    { name: 'copy f32, map kernel (offset 1 word: generic path)', bytes: 8 * n, body: () => copyKernel(backend, xo) },
    { name: 'copy f32, contiguous() = copy engine, one submit per copy', bytes: 8 * n, body: () => contiguous(xo) },
    { name: 'add f32 (aligned: vectorized path)', bytes: 12 * n, body: () => add(xa, ya) },
    { name: 'add f32 (offset 1 word: generic path)', bytes: 12 * n, body: () => add(xo, yo) },
    { name: 'add f16 (aligned: vectorized path)', bytes: 6 * n, body: () => add(xha, yha) },
    { name: 'add f16 (offset 1 word: generic path)', bytes: 6 * n, body: () => add(xho, yho) },
  ];
  const rows: BandwidthRow[] = [];
  try {
    for (const run of runs) {
      const r = row(run.name, 'kvkit', run.bytes, await sustainKvkit(backend, run.body, options.timing));
      options.log(`  ${r.name}: ${r.gbps.median.toFixed(1)} GB/s median (${r.source}, ${r.reps} reps)`);
      rows.push(r);
    }
  } finally {
    for (const t of [x, y, xh, yh]) t.dispose();
  }
  return rows;
}

export function rawVariants(sms: number): RawVariant[] {
  const resident = sms * 8;
  return [
    { name: 'copy u32/invocation, wg 256, 2-D grid (kvkit map shape)', width: 1, workgroupSize: 256, op: 'copy' },
    { name: 'copy u32/invocation, wg 64, 2-D grid', width: 1, workgroupSize: 64, op: 'copy' },
    { name: 'copy vec4/invocation, wg 256, 2-D grid', width: 4, workgroupSize: 256, op: 'copy' },
    { name: 'copy vec4/invocation, wg 64, 2-D grid', width: 4, workgroupSize: 64, op: 'copy' },
    { name: `copy u32 grid-stride, wg 256 × ${resident}`, width: 1, workgroupSize: 256, workgroups: resident, op: 'copy' },
    { name: `copy vec4 grid-stride, wg 256 × ${resident}`, width: 4, workgroupSize: 256, workgroups: resident, op: 'copy' },
    { name: `copy vec4 grid-stride, wg 64 × ${4 * resident}`, width: 4, workgroupSize: 64, workgroups: 4 * resident, op: 'copy' },
    { name: 'add f32 u32/invocation, wg 256, 2-D grid', width: 1, workgroupSize: 256, op: 'add f32' },
    { name: 'add f32 vec4/invocation, wg 256, 2-D grid', width: 4, workgroupSize: 256, op: 'add f32' },
  ];
}

async function rawRows(device: GPUDevice, path: string, variants: readonly RawVariant[], copyEngine: boolean, timestamps: boolean, options: MemoryBoundOptions): Promise<BandwidthRow[]> {
  const suite = new RawBandwidth(device, options.elements);
  const rows: BandwidthRow[] = [];
  try {
    suite.fill();
    const results = [];
    const runs = [...(copyEngine ? [() => suite.runCopyEngine(options.timing, timestamps)] : []), ...variants.map((v) => () => suite.run(v, options.timing, timestamps))];
    for (const run of runs) {
      const r = await run();
      options.log(`  ${path}: ${r.name}: ${(r.bytes / (r.medianMs * 1e-3) / 1e9).toFixed(1)} GB/s median (${r.source}, ${r.reps} reps, wrong words ${r.wrongWords})`);
      results.push(r);
    }
    for (const r of results) rows.push(row(r.name, path, r.bytes, r, r.wrongWords));
  } finally {
    suite.dispose();
  }
  return rows;
}

/** Every memory-bound row: raw shapes, kvkit's kernels, then raw shapes without robustness. */
export async function memoryBoundRows(backend: WebGpuBackend, options: MemoryBoundOptions): Promise<{ rows: BandwidthRow[]; robustnessOff?: string }> {
  const timestamps = backend.features.has('timestamp-query');
  const variants = rawVariants(options.sms);
  const rows = await rawRows(backend.device, 'raw', variants, true, timestamps, options);
  rows.push(...(await kvkitRows(backend, options)));
  backend.trimPool();
  // A second device with Dawn's robustness transform off (no index clamps in the generated code).
  let robustnessOff: string | undefined;
  const flags = ['enable-dawn-features=allow_unsafe_apis,disable_robustness', ...options.dawnFlags];
  try {
    const unsafe = await createWebGpuBackend({ dawnFlags: flags, adapter: { powerPreference: 'high-performance' } });
    try {
      const picked = variants.filter((v) => v.op === 'copy' && v.workgroupSize === 256);
      rows.push(...(await rawRows(unsafe.device, 'raw, robustness off', picked, false, unsafe.features.has('timestamp-query'), options)));
      robustnessOff = `dawn flags ${flags.join(' ')}`;
    } finally {
      unsafe.dispose();
    }
  } catch (error) {
    robustnessOff = `not measured: ${(error as Error).message}`;
    options.log(`  robustness-off device: ${robustnessOff}`);
  }
  return { rows, robustnessOff };
}

/** Clocks of each row's (and torch's) timed window. */
export function attachClocks(rows: BandwidthRow[], samples: readonly ClockSample[]): void {
  for (const r of rows) r.clocks = clocksDuring(samples, r.window[0], r.window[1]);
}

const pct = (part: number, whole: number | undefined) => (whole ? `${((100 * part) / whole).toFixed(0)}%` : '—');
/** GB/s with a decimal below 100 (SwiftShader's dry runs move well under 1 GB/s). */
const gb = (v: number) => v.toFixed(v < 100 ? 1 : 0);

/** The key table of the memory-bound question, and what it says. */
export function memoryBoundTable(rows: readonly BandwidthRow[], elements: number, torch: TorchBandwidth, samples: readonly ClockSample[]): string {
  const torchCopy = torch.bandwidthGBps?.['copy f32'];
  const torchWindow = torch.bandwidthDetail?.['copy f32']?.window;
  const torchClocks = torchWindow ? clocksDuring(samples, torchWindow[0], torchWindow[1]) : undefined;
  const clockCells = (c: ClockSummary | undefined) => (c ? `${formatRange(c.memMHz)} | ${formatRange(c.smMHz)} | ${c.pstates}` : '— | — | —');
  const lines = [
    `| memory-bound row (${elements} elements/operand) | path | timing | GB/s median | best | mean | wall | median / torch copy | mem MHz | SM MHz | pstate | check |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const g = r.gbps;
      const check = r.wrongWords === undefined ? 'parity suite' : r.wrongWords === 0 ? 'ok' : `${r.wrongWords} wrong`;
      return `| ${r.name} | ${r.path} | ${r.source} | ${gb(g.median)} | ${gb(g.best)} | ${gb(g.mean)} | ${gb(g.wall)} | ${pct(g.median, torchCopy)} | ${clockCells(r.clocks)} | ${check} |`;
    }),
    `| torch copy f32 (x.clone()) | PyTorch | CUDA events per call | ${torchCopy === undefined ? '—' : gb(torchCopy)} | | | | 100% | ${clockCells(torchClocks)} | |`,
  ];
  const kernels = rows.filter((r) => r.source !== 'wall' && r.wrongWords !== undefined && !r.name.startsWith('copy engine'));
  const best = kernels.reduce<BandwidthRow | undefined>((b, r) => (!b || r.gbps.median > b.gbps.median ? r : b), undefined);
  const find = (prefix: string) => rows.find((r) => r.path === 'kvkit' && r.name.startsWith(prefix));
  const verdict = [''];
  if (best) verdict.push(`best raw kernel shape: ${best.name} (${best.path}) ${gb(best.gbps.median)} GB/s = ${pct(best.gbps.median, torchCopy)} of torch copy (goal ≥ 70%)`);
  for (const [prefix, torchOp] of [['copy f32, map kernel (aligned', 'copy f32'], ['add f32 (aligned', 'add f32'], ['add f16 (aligned', 'add f16']]) {
    const r = find(prefix);
    const same = torch.bandwidthGBps?.[torchOp];
    if (r) verdict.push(`kvkit ${r.name}: ${gb(r.gbps.median)} GB/s = ${pct(r.gbps.median, torchCopy)} of torch copy (torch ${torchOp}: ${same === undefined ? '—' : `${gb(same)} GB/s`})`);
  }
  const clocked = rows.filter((r) => r.clocks);
  if (clocked.length > 0) {
    const low = Math.min(...clocked.map((r) => r.clocks!.memMHz[0]));
    const high = Math.max(...clocked.map((r) => r.clocks!.memMHz[1]));
    const torchMem = torchClocks ? `${formatRange(torchClocks.memMHz)} MHz` : 'no samples';
    verdict.push(`memory clock over the timed windows: ${low}–${high} MHz (torch copy: ${torchMem})${low < 0.9 * high ? ' — rows timed below the top clock are suspect' : ''}`);
  } else {
    verdict.push('memory clock: no nvidia-smi samples (not on the GPU machine, or nvidia-smi missing)');
  }
  return [...lines, ...verdict].join('\n');
}
