/// <reference types="@webgpu/types" />
/**
 * The attention-kernels check for the GPU machine (bundled by attention-check.sh into one file; no
 * npm there). One process per backend, so a crash or hang in one cannot hide the other's results:
 *
 *   node attention-check.mjs --backend cuda   [--emulate] [--quick] --out DIR  → DIR/attention/attention-cuda.json
 *   node attention-check.mjs --backend webgpu [--quick] --out DIR              → DIR/attention/attention-webgpu.json
 *   node attention-check.mjs --summarize --out DIR                            → DIR/attention/attention.json + a markdown table
 *
 * Per backend: (1) the backend's copy bandwidth; (2) split-K decode attention at
 * batch 8 × 32 query heads × 8 KV heads × head dim 128, f16, over 4k–32k keys (CUDA also 128k;
 * CUDA times each decode twice: its default tensor-core pass and the 16-byte pass forced; the batch folded
 * into the heads: same memory traffic and work), as ms, GB/s of K/V read and fraction of the copy
 * bandwidth, each output spot-checked against the CPU kernel; (2b) causal prefill (flashAttention)
 * of 1k–16k tokens, batch 1, same heads, f16, as ms and TFLOP/s (causalPrefillFlops), spot-checked
 * on the first and last queries of one KV head's group; (3) parity of every GPU kernel of
 * @kvkit/attention-kernels with its CPU kernel on fresh random inputs
 * (packages/attention-kernels/test/gpu/parity-cases.ts, each case failure-tolerant and
 * time-bounded); (4) the fused 2-bit KIVI decode on the
 * same shapes (GB/s of packed bytes, speed-up over f16); (5) ChunkAttention's two-phase decode
 * (prefixSharedAttention) for the batch sharing a system prompt of 4k–32k tokens plus 128 own
 * tokens each, against batched paged attention over the same sequences (which reads the shared
 * prompt once per request), and the same decode with per-key statistics (H2O sums over each
 * request's whole path: a second pass from the merged lse). The summary puts PyTorch SDPA on the
 * same shapes beside it (tooling/gpu/attention_torch.py, DIR/attention/torch-attention.json), and
 * each backend's prefill TFLOP/s as a fraction of SDPA's (is_causal, enable_gqa) from the same run.
 * --emulate: the CUDA run on @kvkit/cuda-runtime's CPU emulator at tiny sizes (a dry run of this script).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { type Backend, concat, contiguous, createRng, getBackend, mul, randomNormal, type Rng, slice, type Tensor, tensor, toBackend, wordsPerRow, zeros } from '@kvkit/tensor-core';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed, relativeError } from '@kvkit/tensor-core/testing';
import { createWebGpuBackend, type WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { CUDA_ATTENTION_MODULES } from '../../packages/attention-kernels/src/cuda/modules.js';
import { batchedPagedAttention, decodeAttention, flashAttention, type KernelResult, type KeyStatistics, type KiviCacheView, kiviDecodeAttention, PrefixKVTree, type PrefixSequence, prefixSharedAttention } from '../../packages/attention-kernels/src/index.js';
import { gpuParityCases } from '../../packages/attention-kernels/test/gpu/parity-cases.js';
import { timeDeviceMs, timeWebGpuMs } from './device-timer.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const outDir = join(option('--out') ?? process.env.OUT ?? '.', 'attention');
const quick = args.includes('--quick');
const emulate = args.includes('--emulate');
const backendName = option('--backend');
/** Tiny shapes where the device is emulated or software (SwiftShader): the logic is checked, not speed. */
const tiny = emulate || process.env.KVKIT_ATTENTION_CHECK_TINY === '1';
const CASE_TIMEOUT_MS = 20_000;
const dims = tiny
  ? { batch: 2, qHeads: 4, kvHeads: 2, d: 64, lengths: [256, 1000], reps: 2, copyElements: 1 << 16, prefillLengths: [64, 160], prefillReps: 2 }
  : { batch: 8, qHeads: 32, kvHeads: 8, d: 128, lengths: quick ? [4096] : [4096, 16384, 32768], reps: 20, copyElements: 1 << 27, prefillLengths: quick ? [1024, 4096] : [1024, 4096, 16384], prefillReps: 5 };
/**
 * Decode and KIVI lengths per backend: CUDA also runs 128k keys, the shape of the KIVI goal (≥ 4×
 * torch f16 SDPA at batch 8, 128k). WebGPU stops at 32k: 128k f16 K/V is one 2 GiB binding.
 */
const decodeLengths = (backend: string): number[] => (backend === 'cuda' && !tiny && !quick ? [...dims.lengths, 131072] : dims.lengths);
/**
 * The CUDA pass-1 override (decode-attention.ts, kivi-decode.ts): 'vec' forces the 16-byte
 * CUDA-core pass and 'mma16' the 16-row tensor-core pass (prefill's default is the 64-row one), so
 * one run times them beside the default.
 */
const CUDA_DECODE_OVERRIDE = 'KVKIT_CUDA_DECODE';
/** Prefill sizes up to which CUDA also times the forced passes (the 16-byte one is slow there). */
const PREFILL_COMPARE_MAX = 4096;
const DECODE_DTYPE = 'f16' as const;
/** Prefill runs in f16 on both GPU backends (their flashAttention takes f32, f16 and bf16). */
const PREFILL_DTYPE = 'f16' as const;
/** A prefill size whose calls (warm-up + reps, estimated from the size before it: FLOPs ∝ n(n+1)) would take longer is skipped. */
const PREFILL_BUDGET_MS = 20_000;
/** Queries at each end of the prompt whose outputs are checked against the CPU kernel. */
const PREFILL_SPOT = 32;
/** The headline decode and KIVI timings take the default partition size (512; CUDA sizes its own to fill the GPU). */
const PARTITION: number | undefined = undefined;
/**
 * --partition-sweep: only decode and KIVI, timed at each of these partition sizes (keys per split-K
 * block) at 32k keys (CUDA also 128k), to see how the split count moves the bandwidth.
 */
const partitionSweep = args.includes('--partition-sweep');
/** --partitions a,b,… and --sweep-lengths n,… narrow the sweep (a profiler run wants one launch shape). */
const listOption = (name: string): string[] | undefined => option(name)?.split(',');
/** 'auto': no partitionSize, the backend's default. */
const SWEEP_PARTITIONS: (number | 'auto')[] = listOption('--partitions')?.map((p) => (p === 'auto' ? p : Number(p))) ?? ['auto', 256, 512, 1024, 2048, 4096, 8192, 16384];
const sweepLengths = (backend: string): number[] => listOption('--sweep-lengths')?.map(Number) ?? decodeLengths(backend).filter((n) => n >= 32768 || tiny);

mkdirSync(outDir, { recursive: true });
const log = (line: string): void => console.log(line);

interface TimingEntry {
  ms?: number;
  /** CUDA: the same call with the 16-byte CUDA-core pass forced (KVKIT_CUDA_DECODE=vec). */
  vecMs?: number;
  kvGBps?: number;
  fractionOfCopy?: number;
  spotCheckError?: number;
  error?: string;
}

interface PrefillEntry {
  ms?: number;
  /** CUDA, up to PREFILL_COMPARE_MAX tokens: the 16-row tensor-core pass and the 16-byte pass forced. */
  mma16Ms?: number;
  vecMs?: number;
  tflops?: number;
  spotCheckError?: number;
  error?: string;
  skipped?: string;
}

/**
 * FLOPs of causal attention over n tokens with `heads` query heads of dim d: n(n+1)/2 visible
 * (query, key) pairs per head, 2d FLOPs for q·k and 2d for p·v each (attention_torch.py counts the same).
 */
const causalPrefillFlops = (heads: number, d: number, n: number): number => (4 * heads * d * n * (n + 1)) / 2;

interface BackendReport {
  backend: string;
  device?: unknown;
  seed?: number;
  parity?: { name: string; kernel: string; error?: number; tolerance: number; pass: boolean; failure?: string; ms: number }[];
  copyGBps?: number;
  decode?: Record<string, TimingEntry>;
  /** Causal prefill (flashAttention) of n tokens, batch 1: ms and TFLOP/s (causalPrefillFlops). */
  prefill?: Record<string, PrefillEntry>;
  /** Fused 2-bit KIVI decode on the same shapes: GB/s of the compressed bytes read, and speed-up over the f16 decode. */
  kivi?: Record<string, TimingEntry & { speedupOverF16?: number; bytesPerToken?: number }>;
  /** --partition-sweep: ms of the f16 decode and the KIVI decode per key count and partition size. */
  partitionSweep?: Record<string, Record<string, { decodeMs?: number; kiviMs?: number; decodeGBps?: number; error?: string }>>;
  /** Two-phase prefix-shared decode over a shared prompt of n tokens (+ PREFIX_OWN each): ms, and batched paged attention over the same sequences. */
  prefix?: Record<string, TimingEntry & { pagedMs?: number; speedupOverPaged?: number; statisticsMs?: number; statisticsSpotCheckError?: number }>;
  fatal?: string;
}

/** Rejects after `ms` (the pending work is abandoned; the process ends at the end anyway). */
function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

interface Device {
  name: 'cuda' | 'webgpu';
  backend: Backend;
  /** Device ms per call of `body` over `reps` calls, after a warm-up. */
  time(reps: number, body: () => void): Promise<number>;
  describe(): unknown;
}

async function openCuda(): Promise<Device> {
  const runtime = loadCudaRuntime({ emulate });
  const backend: CudaBackend = await createCudaBackend({ runtime: () => runtime });
  for (const module of CUDA_ATTENTION_MODULES) backend.module(module); // NVRTC on first use (the split-K modules: tens of seconds in all), then the disk cache
  return {
    name: 'cuda',
    backend,
    describe: () => runtime.device,
    time: (reps, body) => timeDeviceMs(runtime, backend, reps, body),
  };
}

async function openWebGpu(): Promise<Device> {
  // Unquantized timestamps.
  const flags = ['disable-dawn-features=timestamp_quantization'];
  const options = { adapter: { powerPreference: 'high-performance' as const }, maxPooledBytes: 8 * 2 ** 30 };
  // KVKIT_DAWN_NODE (the GPU machine's bundle has no node_modules) is honoured by the backend itself.
  const backend: WebGpuBackend = await createWebGpuBackend({ dawnFlags: flags, ...options });
  return {
    name: 'webgpu',
    backend,
    describe: () => backend.info,
    time: (reps, body) => timeWebGpuMs(backend, reps, body),
  };
}

async function parity(device: Device, report: BackendReport, save: () => void): Promise<void> {
  const seed = freshSeed();
  const rng = createRng(seed);
  report.seed = seed;
  report.parity = [];
  for (const c of gpuParityCases()) {
    const started = performance.now();
    const entry: NonNullable<BackendReport['parity']>[number] = { name: c.name, kernel: c.kernel, tolerance: c.tolerance, pass: false, ms: 0 };
    try {
      entry.error = await within(CASE_TIMEOUT_MS, c.name, c.run(device.backend, rng));
      entry.pass = entry.error <= c.tolerance;
    } catch (error) {
      entry.failure = (error as Error).message;
    }
    entry.ms = Math.round(performance.now() - started);
    report.parity.push(entry);
    if (!entry.pass) log(`PARITY FAIL ${c.name}: ${entry.failure ?? `error ${entry.error} > ${c.tolerance}`}`);
    save();
  }
  const passed = report.parity.filter((p) => p.pass).length;
  log(`${report.backend} parity: ${passed}/${report.parity.length} passed (seed ${seed}; reproduce with KVKIT_SEED=${seed})`);
}

async function copyBandwidth(device: Device): Promise<number> {
  const big = zeros([dims.copyElements], { backend: device.backend });
  try {
    // The faster of the copy path (copy engine on CUDA) and a read + write map kernel (× 1): on the
    // H200 Dawn's copy engine path reached 830 GB/s while WebGPU kernels copy at ~4200 GB/s, so the
    // copy engine alone flattered WebGPU's fractions.
    const reps = tiny ? 2 : 10;
    const copyMs = await device.time(reps, () => contiguous(big).dispose());
    const kernelMs = await device.time(reps, () => mul(big, 1).dispose());
    return (2 * dims.copyElements * 4) / (Math.min(copyMs, kernelMs) / 1000) / 1e9;
  } finally {
    big.dispose();
  }
}

/**
 * Decode over n keys: q [batch·qHeads, 1, d], k/v [batch·kvHeads, n, d] (every KV head holds the
 * same random block, uploaded once and concatenated on the device: no gigabyte of host data).
 */
async function decodeAt(device: Device, n: number, copyGBps: number | undefined, partition: number | undefined = PARTITION, timingOnly = false): Promise<TimingEntry> {
  const cpu = getBackend('cpu');
  const rng = createRng(n);
  const { batch, qHeads, kvHeads, d } = dims;
  const group = qHeads / kvHeads;
  const qHost = randomNormal([batch * qHeads, 1, d], rng, { dtype: DECODE_DTYPE, backend: cpu });
  const kBlock = randomNormal([1, n, d], rng, { dtype: DECODE_DTYPE, backend: cpu });
  const vBlock = randomNormal([1, n, d], rng, { dtype: DECODE_DTYPE, backend: cpu });
  const live: Tensor[] = [];
  try {
    const [q, kb, vb] = await Promise.all([qHost, kBlock, vBlock].map((t) => toBackend(t, device.backend)));
    live.push(q, kb, vb);
    const k = concat(new Array<Tensor>(batch * kvHeads).fill(kb), 0);
    const v = concat(new Array<Tensor>(batch * kvHeads).fill(vb), 0);
    live.push(k, v);
    // Positions on the device, made once (as a runtime keeps them): without them every call uploads
    // n default key positions from the host, a synchronous copy inside the timed loop.
    const positions = await Promise.all([
      devicePositions(device, n - 1, 1),
      devicePositions(device, 0, n),
    ]);
    live.push(...positions);
    const options = { partitionSize: partition, queryPositions: positions[0], keyPositions: positions[1] };
    const call = () => decodeAttention(q, k, v, options).output.dispose();
    const ms = await device.time(dims.reps, call);
    const kvBytes = 2 * batch * kvHeads * n * d * 2;
    const kvGBps = kvBytes / (ms / 1000) / 1e9;
    if (timingOnly) return { ms, kvGBps, fractionOfCopy: copyGBps ? kvGBps / copyGBps : undefined };
    const vecMs = await timeWithOverride(device, 'vec', dims.reps, call);
    // The first KV head's query heads against the CPU kernel over the same block.
    const out = decodeAttention(q, k, v, options).output;
    live.push(out);
    const got = (await out.readFloat32()).subarray(0, group * d);
    const ref = decodeAttention(slice(qHost, [0, 0, 0], [group, 1, d]), kBlock, vBlock, { partitionSize: PARTITION }).output.readFloat32Sync();
    const spotCheckError = relativeError(got, ref);
    return { ms, vecMs, kvGBps, fractionOfCopy: copyGBps ? kvGBps / copyGBps : undefined, spotCheckError };
  } finally {
    for (const t of live) t.dispose();
  }
}

/** On CUDA, device ms per call with CUDA_DECODE_OVERRIDE set to `pass`; undefined elsewhere. */
async function timeWithOverride(device: Device, pass: 'vec' | 'mma16', reps: number, call: () => void): Promise<number | undefined> {
  if (device.name !== 'cuda') return undefined;
  const before = process.env[CUDA_DECODE_OVERRIDE];
  process.env[CUDA_DECODE_OVERRIDE] = pass;
  try {
    return await device.time(reps, call);
  } finally {
    if (before === undefined) delete process.env[CUDA_DECODE_OVERRIDE];
    else process.env[CUDA_DECODE_OVERRIDE] = before;
  }
}

/** Positions from, from + 1, … (count of them) as i32 on the device, made once as a runtime keeps them. */
function devicePositions(device: Device, from: number, count: number): Promise<Tensor> {
  return toBackend(tensor(Int32Array.from({ length: count }, (_, j) => from + j), [count], { dtype: 'i32', backend: getBackend('cpu') }), device.backend);
}

/**
 * Causal prefill of n tokens: q [qHeads, n, d], k/v [kvHeads, n, d] (GQA), positions 0 … n − 1 on
 * the device. Every KV head (and its group of query heads) holds the same random block, uploaded
 * once and concatenated on the device, as in decodeAt. The first and last PREFILL_SPOT queries of
 * the first group are checked against the CPU kernel (the last see every key).
 */
async function prefillAt(device: Device, n: number): Promise<PrefillEntry> {
  const cpu = getBackend('cpu');
  const rng = createRng(n + 3);
  const { qHeads, kvHeads, d } = dims;
  const group = qHeads / kvHeads;
  const qBlock = randomNormal([group, n, d], rng, { dtype: PREFILL_DTYPE, backend: cpu });
  const kBlock = randomNormal([1, n, d], rng, { dtype: PREFILL_DTYPE, backend: cpu });
  const vBlock = randomNormal([1, n, d], rng, { dtype: PREFILL_DTYPE, backend: cpu });
  const live: Tensor[] = [];
  try {
    const [qb, kb, vb] = await Promise.all([qBlock, kBlock, vBlock].map((t) => toBackend(t, device.backend)));
    live.push(qb, kb, vb);
    const [q, k, v] = [qb, kb, vb].map((block) => concat(new Array<Tensor>(kvHeads).fill(block), 0));
    live.push(q, k, v);
    const positions = await devicePositions(device, 0, n);
    live.push(positions);
    const options = { causal: true, queryPositions: positions, keyPositions: positions };
    const call = () => flashAttention(q, k, v, options).output.dispose();
    const ms = await device.time(dims.prefillReps, call);
    const tflops = causalPrefillFlops(qHeads, d, n) / (ms / 1000) / 1e12;
    const compare = n <= PREFILL_COMPARE_MAX;
    const mma16Ms = compare ? await timeWithOverride(device, 'mma16', dims.prefillReps, call) : undefined;
    const vecMs = compare ? await timeWithOverride(device, 'vec', dims.prefillReps, call) : undefined;
    const out = flashAttention(q, k, v, options).output;
    live.push(out);
    const spot = Math.min(PREFILL_SPOT, n);
    const rows = async (t: Tensor, from: number, to: number) => {
      const part = contiguous(slice(t, [0, from, 0], [group, to, d]));
      live.push(part);
      return part.readFloat32();
    };
    // The CPU kernel's default positions are n' − m … n' − 1 for m queries over n' keys: the same queries.
    const firstRef = flashAttention(slice(qBlock, [0, 0, 0], [group, spot, d]), slice(kBlock, [0, 0, 0], [1, spot, d]), slice(vBlock, [0, 0, 0], [1, spot, d])).output.readFloat32Sync();
    const lastRef = flashAttention(slice(qBlock, [0, n - spot, 0], [group, n, d]), kBlock, vBlock).output.readFloat32Sync();
    const spotCheckError = Math.max(relativeError(await rows(out, 0, spot), firstRef), relativeError(await rows(out, n - spot, n), lastRef));
    return { ms, mma16Ms, vecMs, tflops, spotCheckError };
  } finally {
    for (const t of live) t.dispose();
  }
}

/** The prefill sizes in order, each skipped when its estimated time (from the last timed size) exceeds PREFILL_BUDGET_MS. */
async function prefillAll(device: Device, report: BackendReport, save: () => void): Promise<void> {
  const name = report.backend;
  report.prefill = {};
  let last: { n: number; ms: number } | undefined;
  for (const n of dims.prefillLengths) {
    const estimate = last && (last.ms * n * (n + 1)) / (last.n * (last.n + 1));
    if (estimate !== undefined && estimate * (dims.prefillReps + 3) > PREFILL_BUDGET_MS) {
      report.prefill[n] = { skipped: `estimated ${estimate.toFixed(0)} ms per call` };
      log(`${name} prefill n=${n} skipped: ${report.prefill[n].skipped}`);
      continue;
    }
    try {
      const r = await within(30_000, `prefill n=${n}`, prefillAt(device, n));
      report.prefill[n] = r;
      if (r.ms !== undefined) last = { n, ms: r.ms };
      const forced = r.vecMs === undefined ? '' : ` (16-row tensor-core pass forced: ${r.mma16Ms?.toFixed(3)} ms; 16-byte pass forced: ${r.vecMs.toFixed(3)} ms)`;
      log(`${name} causal prefill n=${n}: ${r.ms?.toFixed(3)} ms${forced}, ${r.tflops?.toFixed(2)} TFLOP/s, spot check error ${r.spotCheckError?.toExponential(2)}`);
    } catch (error) {
      report.prefill[n] = { error: (error as Error).message };
      log(`${name} prefill n=${n} failed: ${(error as Error).message}`);
    }
    save();
  }
}

const KIVI = { bits: 2 as const, groupSize: 32, valueGroupSize: 32 };

/** One KV head of a 2-bit KIVI cache of n tokens: random codes, scales and minima; the tokens past the last full key group wait in the f16 residual. */
function kiviBlock(rng: Rng, n: number, d: number): KiviCacheView {
  const cpu = getBackend('cpu');
  const groups = Math.floor(n / KIVI.groupSize);
  const residual = n - groups * KIVI.groupSize;
  const quantized = n - residual;
  const words = (count: number) => Uint32Array.from({ length: count }, () => rng.int(2 ** 32));
  const floats = (count: number, lo: number, hi: number) => Float32Array.from({ length: count }, () => lo + (hi - lo) * rng.uniform());
  const half = (data: Float32Array, shape: number[]) => tensor(data, shape, { dtype: 'f16', backend: cpu });
  const vGroups = d / KIVI.valueGroupSize;
  const kWords = wordsPerRow(KIVI.groupSize, KIVI.bits);
  const vWords = wordsPerRow(d, KIVI.bits, KIVI.valueGroupSize);
  return {
    ...KIVI, kvHeads: 1, headDim: d, length: n, keyGroups: groups, valueTokens: quantized,
    keyCodes: tensor(words(groups * d * kWords), [1, groups, d, kWords], { dtype: 'u32', backend: cpu }),
    keyScale: half(floats(groups * d, 0.2, 0.6), [1, groups, d]),
    keyMin: half(floats(groups * d, -1, -0.5), [1, groups, d]),
    valueCodes: tensor(words(quantized * vWords), [1, quantized, vWords], { dtype: 'u32', backend: cpu }),
    valueScale: half(floats(quantized * vGroups, 0.2, 0.6), [1, quantized, vGroups]),
    valueMin: half(floats(quantized * vGroups, -1, -0.5), [1, quantized, vGroups]),
    residualKeys: half(floats(residual * d, -1, 1), [1, residual, d]),
    residualValues: half(floats(residual * d, -1, 1), [1, residual, d]),
    positions: tensor(Int32Array.from({ length: n }, (_, j) => j), [n], { dtype: 'i32', backend: cpu }),
  };
}

/** Fused 2-bit KIVI decode at the decode shapes (every KV head holds the same block, as in decodeAt). */
async function kiviAt(device: Device, n: number, copyGBps: number | undefined, f16Ms: number | undefined, partition: number | undefined = PARTITION, timingOnly = false): Promise<NonNullable<BackendReport['kivi']>[string]> {
  const cpu = getBackend('cpu');
  const rng = createRng(n + 1);
  const { batch, qHeads, kvHeads, d } = dims;
  const group = qHeads / kvHeads;
  const heads = batch * kvHeads;
  const qHost = randomNormal([batch * qHeads, 1, d], rng, { dtype: DECODE_DTYPE, backend: cpu });
  const block = kiviBlock(rng, n, d);
  const names = ['keyCodes', 'keyScale', 'keyMin', 'valueCodes', 'valueScale', 'valueMin', 'residualKeys', 'residualValues'] as const;
  const live: Tensor[] = [];
  try {
    const q = await toBackend(qHost, device.backend);
    live.push(q);
    const view: KiviCacheView = { ...block, kvHeads: heads };
    for (const name of names) {
      const one = await toBackend(block[name], device.backend);
      view[name] = concat(new Array<Tensor>(heads).fill(one), 0);
      live.push(one, view[name]);
    }
    view.positions = await toBackend(block.positions, device.backend);
    live.push(view.positions);
    const queryPosition = await devicePositions(device, n - 1, 1);
    live.push(queryPosition);
    const options = { partitionSize: partition, queryPositions: queryPosition };
    const call = () => kiviDecodeAttention(q, view, options).output.dispose();
    const ms = await device.time(dims.reps, call);
    if (timingOnly) return { ms };
    const vecMs = await timeWithOverride(device, 'vec', dims.reps, call);
    const bytes = names.reduce((sum, name) => sum + view[name].size * (view[name].dtype === 'u32' ? 4 : 2), 0);
    const kvGBps = bytes / (ms / 1000) / 1e9;
    const out = kiviDecodeAttention(q, view, options).output;
    live.push(out);
    const got = (await out.readFloat32()).subarray(0, group * d);
    const ref = kiviDecodeAttention(slice(qHost, [0, 0, 0], [group, 1, d]), block, { partitionSize: PARTITION }).output.readFloat32Sync();
    return {
      ms,
      vecMs,
      kvGBps,
      fractionOfCopy: copyGBps ? kvGBps / copyGBps : undefined,
      spotCheckError: relativeError(got, ref),
      speedupOverF16: f16Ms ? f16Ms / ms : undefined,
      bytesPerToken: bytes / (heads * n),
    };
  } finally {
    for (const t of live) t.dispose();
  }
}

const PREFIX_OWN = 128;
const PREFIX_CHUNK = 64;

/**
 * The batch of the decode shapes sharing a system prompt of n tokens, each request with PREFIX_OWN
 * tokens of its own, in one prefix tree on the device (the first request writes the prompt, the
 * others adopt it): one decode step by prefixSharedAttention (shared chunks read once per KV head
 * for the whole batch) and by batchedPagedAttention over the same sequences (read once per request).
 */
async function prefixAt(device: Device, n: number): Promise<NonNullable<BackendReport['prefix']>[string]> {
  const cpu = getBackend('cpu');
  const rng = createRng(n + 2);
  const { batch, qHeads, kvHeads, d } = dims;
  const tree = new PrefixKVTree({ kvHeads, headDim: d, chunkSize: PREFIX_CHUNK, dtype: DECODE_DTYPE, backend: device.backend, initialPages: kvHeads * (Math.ceil(n / PREFIX_CHUNK) + batch * (Math.ceil(PREFIX_OWN / PREFIX_CHUNK) + 1)) });
  const live: Tensor[] = [];
  const sequences: PrefixSequence[] = [];
  try {
    const upload = async (tokens: number) => {
      const [k, v] = await Promise.all([0, 1].map(() => toBackend(randomNormal([kvHeads, tokens, d], rng, { dtype: DECODE_DTYPE, backend: cpu }), device.backend)));
      live.push(k, v);
      return [k, v];
    };
    const prompt = Int32Array.from({ length: n }, (_, i) => i % 30000);
    const promptPositions = Int32Array.from({ length: n }, (_, i) => i);
    const [pk, pv] = await upload(n);
    const [ok, ov] = await upload(PREFIX_OWN);
    const ownPositions = Int32Array.from({ length: PREFIX_OWN }, (_, i) => n + i);
    for (let b = 0; b < batch; b++) {
      const seq = tree.openSequence();
      sequences.push(seq);
      const adopted = b === 0 ? 0 : seq.adopt(prompt, promptPositions); // whole chunks of the prompt already in the tree
      if (adopted < n) {
        const [k, v] = [pk, pv].map((t) => slice(t, [0, adopted, 0], [kvHeads, n, d]));
        live.push(k, v);
        seq.append(k, v, promptPositions.subarray(adopted), prompt.subarray(adopted));
      }
      seq.append(ok, ov, ownPositions, Int32Array.from({ length: PREFIX_OWN }, () => 30000 + b)); // distinct own tokens
    }
    const qHost = randomNormal([batch, qHeads, 1, d], rng, { dtype: DECODE_DTYPE, backend: cpu });
    const q = await toBackend(qHost, device.backend);
    live.push(q);
    const options = { queryPositions: Int32Array.from({ length: batch }, () => n + PREFIX_OWN - 1) };
    const ms = await device.time(dims.reps, () => prefixSharedAttention(q, sequences, options).output.dispose());
    const pagedMs = await device.time(dims.reps, () => batchedPagedAttention(q, sequences, options).output.dispose());
    const withStatistics = { ...options, statistics: true };
    const release = (r: KernelResult) => [r.output, ...Object.values(r.statistics ?? {})].forEach((t) => t?.dispose());
    const statisticsMs = await device.time(dims.reps, () => release(prefixSharedAttention(q, sequences, withStatistics)));
    const got = prefixSharedAttention(q, sequences, withStatistics);
    const ref = batchedPagedAttention(q, sequences, withStatistics);
    live.push(got.output, ref.output);
    try {
      const spotCheckError = relativeError(await got.output.readFloat32(), await ref.output.readFloat32());
      const statisticsSpotCheckError = relativeError(await (got.statistics as KeyStatistics).keySum.readFloat32(), await (ref.statistics as KeyStatistics).keySum.readFloat32());
      return { ms, pagedMs, speedupOverPaged: pagedMs / ms, spotCheckError, statisticsMs, statisticsSpotCheckError };
    } finally {
      for (const r of [got, ref]) for (const t of Object.values(r.statistics ?? {})) t?.dispose();
    }
  } finally {
    for (const seq of sequences) seq.release();
    tree.dispose();
    for (const t of live) t.dispose();
  }
}

/** --partition-sweep: the f16 and KIVI decodes at 32k keys (CUDA also 128k) for every SWEEP_PARTITIONS size. */
async function sweepPartitions(device: Device, report: BackendReport, save: () => void): Promise<void> {
  report.partitionSweep = {};
  for (const n of sweepLengths(device.name)) {
    const row: NonNullable<BackendReport['partitionSweep']>[string] = (report.partitionSweep[n] = {});
    for (const partition of SWEEP_PARTITIONS) {
      const size = partition === 'auto' ? undefined : partition;
      try {
        const decode = await within(30_000, `decode n=${n} partition ${partition}`, decodeAt(device, n, report.copyGBps, size, true));
        const kivi = await within(30_000, `kivi n=${n} partition ${partition}`, kiviAt(device, n, undefined, undefined, size, true));
        row[partition] = { decodeMs: decode.ms, decodeGBps: decode.kvGBps, kiviMs: kivi.ms };
        log(`${device.name} n=${n} partition ${partition}: decode ${decode.ms?.toFixed(3)} ms (${decode.kvGBps?.toFixed(0)} GB/s), kivi ${kivi.ms?.toFixed(3)} ms`);
      } catch (error) {
        row[partition] = { error: (error as Error).message };
        log(`${device.name} n=${n} partition ${partition} failed: ${(error as Error).message}`);
      }
      save();
    }
  }
}

const vecNote = (r: TimingEntry): string => (r.vecMs === undefined ? '' : ` (16-byte pass forced: ${r.vecMs.toFixed(3)} ms)`);

async function runBackend(name: string): Promise<void> {
  const report: BackendReport = { backend: name };
  const file = join(outDir, `attention-${name}.json`);
  const save = (): void => writeFileSync(file, JSON.stringify(report, null, 2));
  save();
  try {
    const device = await within(120_000, `opening ${name}`, name === 'cuda' ? openCuda() : openWebGpu());
    report.device = device.describe();
    log(`${name}: ${JSON.stringify(report.device)}`);
    save();
    try {
      report.copyGBps = await within(30_000, 'copy bandwidth', copyBandwidth(device));
      log(`${name} copy: ${report.copyGBps.toFixed(0)} GB/s (read + write)`);
    } catch (error) {
      log(`${name} copy bandwidth failed: ${(error as Error).message}`);
    }
    if (partitionSweep) {
      await sweepPartitions(device, report, save);
      return;
    }
    report.decode = {};
    for (const n of decodeLengths(name)) {
      try {
        report.decode[n] = await within(30_000, `decode n=${n}`, decodeAt(device, n, report.copyGBps));
        const r = report.decode[n];
        log(`${name} decode n=${n}: ${r.ms?.toFixed(3)} ms${vecNote(r)}, ${r.kvGBps?.toFixed(0)} GB/s of K/V (${r.fractionOfCopy ? `${(100 * r.fractionOfCopy).toFixed(0)}% of copy` : 'no copy figure'}), spot check error ${r.spotCheckError?.toExponential(2)}`);
      } catch (error) {
        report.decode[n] = { error: (error as Error).message };
        log(`${name} decode n=${n} failed: ${(error as Error).message}`);
      }
      save();
    }
    await prefillAll(device, report, save);
    // Parity after the headline timing, so a slow first compile of tensor-core's modules cannot cost the numbers.
    await parity(device, report, save);
    report.kivi = {};
    for (const n of decodeLengths(name)) {
      try {
        report.kivi[n] = await within(30_000, `kivi decode n=${n}`, kiviAt(device, n, report.copyGBps, report.decode[n]?.ms));
        const r = report.kivi[n];
        log(`${name} kivi 2-bit decode n=${n}: ${r.ms?.toFixed(3)} ms${vecNote(r)}, ${r.kvGBps?.toFixed(0)} GB/s of packed K/V (${r.bytesPerToken?.toFixed(0)} B per token and KV head), ${r.speedupOverF16?.toFixed(2)}× the f16 decode, spot check error ${r.spotCheckError?.toExponential(2)}`);
      } catch (error) {
        report.kivi[n] = { error: (error as Error).message };
        log(`${name} kivi decode n=${n} failed: ${(error as Error).message}`);
      }
      save();
    }
    report.prefix = {};
    for (const n of dims.lengths) {
      try {
        report.prefix[n] = await within(30_000, `prefix-shared decode n=${n}`, prefixAt(device, n));
        const r = report.prefix[n];
        log(`${name} prefix-shared decode, shared prompt n=${n} + ${PREFIX_OWN} own: ${r.ms?.toFixed(3)} ms, ${r.speedupOverPaged?.toFixed(2)}× batched paged attention (${r.pagedMs?.toFixed(3)} ms), spot check error ${r.spotCheckError?.toExponential(2)}; with statistics ${r.statisticsMs?.toFixed(3)} ms (keySum spot check error ${r.statisticsSpotCheckError?.toExponential(2)})`);
      } catch (error) {
        report.prefix[n] = { error: (error as Error).message };
        log(`${name} prefix-shared decode n=${n} failed: ${(error as Error).message}`);
      }
      save();
    }
  } catch (error) {
    report.fatal = (error as Error).stack ?? String(error);
    log(`${name}: ${(error as Error).message}`);
  }
  save();
}

function readJson<T>(file: string): T | undefined {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
  } catch {
    return undefined;
  }
}

function summarize(): void {
  const backends = ['cuda', 'webgpu'].map((b) => readJson<BackendReport>(join(outDir, `attention-${b}.json`)) ?? { backend: b, fatal: 'no result (not run, or killed before its first write)' });
  const torch = readJson<{
    copyGBps?: number;
    gqa?: string;
    decode?: Record<string, { ms?: number; kvGBps?: number; error?: string }>;
    prefill?: Record<string, { ms?: number; tflops?: number; error?: string }>;
  }>(join(outDir, 'torch-attention.json'));
  const fmt = (x: number | undefined, digits = 0): string => (x === undefined || !Number.isFinite(x) ? '—' : x >= 100 || digits > 0 ? x.toFixed(digits) : x.toPrecision(3));
  const lines = ['', '| backend | parity (passed/total) | failures | copy GB/s |', '|---|---|---|---|'];
  for (const b of backends) {
    const p = b.parity ?? [];
    const failed = p.filter((x) => !x.pass).map((x) => x.name.split(':')[0] + (x.failure ? ` (${x.failure.slice(0, 60)})` : ` (${x.error?.toExponential(1)})`));
    lines.push(`| ${b.backend} | ${b.fatal && p.length === 0 ? `not run: ${b.fatal.split('\n')[0].slice(0, 80)}` : `${p.length - failed.length}/${p.length}`} | ${failed.join('; ') || '—'} | ${fmt(b.copyGBps)} |`);
  }
  lines.push('', `decode attention, batch ${dims.batch} × ${dims.qHeads} query heads × ${dims.kvHeads} KV heads × head dim ${dims.d}, ${DECODE_DTYPE}; GB/s of K/V read (% of the backend's copy GB/s)`, '');
  lines.push(`| keys | CUDA ms (16-byte pass ms) | CUDA GB/s | CUDA / torch speed | WebGPU ms | WebGPU GB/s | torch SDPA ms | torch GB/s (${torch?.gqa ?? 'not run'}) |`, '|---|---|---|---|---|---|---|---|');
  const lengths = new Set<string>([...backends.flatMap((b) => Object.keys(b.decode ?? {})), ...Object.keys(torch?.decode ?? {})]);
  const cell = (r: TimingEntry | undefined): [string, string] =>
    !r ? ['—', '—'] : r.error ? ['failed', r.error.slice(0, 40)] : [`${fmt(r.ms, 3)}${r.vecMs !== undefined ? ` (${fmt(r.vecMs, 3)})` : ''}`, `${fmt(r.kvGBps)}${r.fractionOfCopy ? ` (${(100 * r.fractionOfCopy).toFixed(0)}%)` : ''}`];
  /** torch SDPA's ms over ours at the same n: above 1, ours is faster. */
  const overTorch = (ms: number | undefined, n: string): string => {
    const t = torch?.decode?.[n]?.ms;
    return ms && t ? `${(t / ms).toFixed(2)}×` : '—';
  };
  for (const n of [...lengths].sort((a, b) => Number(a) - Number(b))) {
    const [c, w] = backends.map((b) => cell(b.decode?.[n]));
    const t = cell(torch?.decode?.[n]);
    lines.push(`| ${n} | ${c[0]} | ${c[1]} | ${overTorch(backends[0].decode?.[n]?.ms, n)} | ${w[0]} | ${w[1]} | ${t[0]} | ${t[1]} |`);
  }
  // Prefill TFLOP/s as a fraction of torch SDPA's from the same run (attention_torch.py).
  const prefillFractionOfTorch: Record<string, Record<string, number>> = {};
  for (const b of backends) {
    for (const [n, r] of Object.entries(b.prefill ?? {})) {
      const t = torch?.prefill?.[n]?.tflops;
      if (r.tflops !== undefined && t) (prefillFractionOfTorch[b.backend] ??= {})[n] = r.tflops / t;
    }
  }
  lines.push('', `causal prefill (flashAttention), batch 1 × ${dims.qHeads} query heads × ${dims.kvHeads} KV heads × head dim ${dims.d}, ${PREFILL_DTYPE}; TFLOP/s = 4·H·d·n(n+1)/2 / time (H = ${dims.qHeads} query heads, n(n+1)/2 visible pairs, 2d FLOPs each for q·k and p·v) (% of torch SDPA is_causal, ${torch?.gqa ?? 'not run'})`, '');
  lines.push('| tokens | CUDA ms (16-row mma / 16-byte pass ms) | CUDA TFLOP/s (% torch) | WebGPU ms | WebGPU TFLOP/s (% torch) | torch SDPA ms | torch TFLOP/s |', '|---|---|---|---|---|---|---|');
  const prefillCell = (r: PrefillEntry | undefined, fraction: number | undefined): [string, string] =>
    !r
      ? ['—', '—']
      : r.skipped
        ? ['skipped', r.skipped]
        : r.error
          ? ['failed', r.error.slice(0, 40)]
          : [`${fmt(r.ms, 3)}${r.vecMs !== undefined ? ` (${fmt(r.mma16Ms, 3)} / ${fmt(r.vecMs, 3)})` : ''}`, `${fmt(r.tflops, 2)}${fraction ? ` (${(100 * fraction).toFixed(0)}%)` : ''}`];
  const prefillLengths = new Set<string>([...backends.flatMap((b) => Object.keys(b.prefill ?? {})), ...Object.keys(torch?.prefill ?? {})]);
  for (const n of [...prefillLengths].sort((a, b) => Number(a) - Number(b))) {
    const [c, w] = backends.map((b) => prefillCell(b.prefill?.[n], prefillFractionOfTorch[b.backend]?.[n]));
    const t = prefillCell(torch?.prefill?.[n], undefined);
    lines.push(`| ${n} | ${c[0]} | ${c[1]} | ${w[0]} | ${w[1]} | ${t[0]} | ${t[1]} |`);
  }
  lines.push('', `fused KIVI ${KIVI.bits}-bit decode (key groups of ${KIVI.groupSize} tokens, value groups of ${KIVI.valueGroupSize} channels, f16 scales), same shapes: GB/s of packed bytes read (× the f16 decode's speed)`, '');
  lines.push('| keys | CUDA ms (16-byte pass ms) | CUDA GB/s (× our f16) | CUDA / torch f16 SDPA speed | WebGPU ms | WebGPU GB/s (× our f16) |', '|---|---|---|---|---|---|');
  const kiviCell = (r: (TimingEntry & { speedupOverF16?: number }) | undefined): [string, string] =>
    !r ? ['—', '—'] : r.error ? ['failed', r.error.slice(0, 40)] : [`${fmt(r.ms, 3)}${r.vecMs !== undefined ? ` (${fmt(r.vecMs, 3)})` : ''}`, `${fmt(r.kvGBps)}${r.speedupOverF16 ? ` (${r.speedupOverF16.toFixed(2)}×)` : ''}`];
  for (const n of [...new Set(backends.flatMap((b) => Object.keys(b.kivi ?? {})))].sort((a, b) => Number(a) - Number(b))) {
    const [c, w] = backends.map((b) => kiviCell(b.kivi?.[n]));
    lines.push(`| ${n} | ${c[0]} | ${c[1]} | ${overTorch(backends[0].kivi?.[n]?.ms, n)} | ${w[0]} | ${w[1]} |`);
  }
  lines.push('', `prefix-shared decode (ChunkAttention, chunks of ${PREFIX_CHUNK}): the batch shares a prompt of n tokens, ${PREFIX_OWN} own tokens each; ms (× batched paged attention over the same sequences)`, '');
  lines.push('| shared n | CUDA ms (× paged) | WebGPU ms (× paged) | CUDA ms with statistics | WebGPU ms with statistics |', '|---|---|---|---|---|');
  const prefixCell = (r: (TimingEntry & { speedupOverPaged?: number }) | undefined): string =>
    !r ? '—' : r.error ? `failed: ${r.error.slice(0, 40)}` : `${fmt(r.ms, 3)}${r.speedupOverPaged ? ` (${r.speedupOverPaged.toFixed(2)}×)` : ''}`;
  for (const n of [...new Set(backends.flatMap((b) => Object.keys(b.prefix ?? {})))].sort((a, b) => Number(a) - Number(b))) {
    const withStatistics = backends.map((b) => fmt(b.prefix?.[n]?.statisticsMs, 3));
    lines.push(`| ${n} | ${prefixCell(backends[0].prefix?.[n])} | ${prefixCell(backends[1].prefix?.[n])} | ${withStatistics[0]} | ${withStatistics[1]} |`);
  }
  if (torch?.copyGBps) lines.push('', `torch copy: ${fmt(torch.copyGBps)} GB/s`);
  const summary = { date: new Date().toISOString(), backends, torch, prefillFractionOfTorch, table: lines.join('\n') };
  writeFileSync(join(outDir, 'attention.json'), JSON.stringify(summary, null, 2));
  console.log(lines.join('\n'));
}

if (args.includes('--summarize')) summarize();
else if (backendName === 'cuda' || backendName === 'webgpu') {
  await runBackend(backendName);
  process.exit(0); // a hung GPU request must not keep the process alive past its report
} else {
  console.error('usage: attention-check.mjs --backend cuda|webgpu [--emulate] [--quick] --out DIR | --summarize --out DIR');
  process.exit(2);
}
