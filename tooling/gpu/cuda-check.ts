/**
 * The CUDA check for the GPU machine (bundled by cuda-check.sh into one file; no npm there):
 *   1. device and compiler, every tensor-core CUDA module compiled (NVRTC, disk cache);
 *   2. parity of every kernel with the CPU backend on fresh random inputs;
 *   3. device-side input checks (bad gather index, bad code) raise typed errors;
 *   4. allocation/free stress: device memory returns to its start value;
 *   5. an out-of-memory request gives OutOfMemoryError and the backend stays usable;
 *   6. benchmarks: matmul f32/f16/bf16 (large f16/bf16 also on the 128×128 tensor-core kernel,
 *      KVKIT_CUDA_MATMUL=mma128), the bandwidth of copy and every memory-bound kernel (element-wise,
 *      transposing copy, softmax, RMSNorm, row sums, RoPE, cast, gather, bit packing), launch overhead.
 * Writes $OUT/cuda-check.json (or --out DIR); prints a short table last, with the PyTorch numbers
 * of torch_baseline.py (same run) next to ours when $OUT/torch.json exists.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { timeDeviceMs } from './device-timer.js';
import {
  add,
  cast,
  contiguous,
  createRng,
  gather,
  IndexOutOfRangeError,
  InvalidConfigError,
  matmul,
  OutOfMemoryError,
  packBits,
  randomUniform,
  reduce,
  reshape,
  resolveBackend,
  rmsNorm,
  rope,
  softmax,
  type Tensor,
  tensor,
  toBackend,
  transpose,
  unary,
  unpackBits,
  zeros,
} from '@kvkit/tensor-core';
import { CUDA_MODULES, type CudaBackend, registerCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { parityCases, type ParityResult, runParityCase } from '../../packages/cuda-runtime/test/parity-cases.js';

const outDir = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : (process.env.OUT ?? '.');
const quick = process.argv.includes('--quick');
// --emulate: a dry run of this whole script on the CPU emulator (tiny sizes, no out-of-memory test),
// to check the script itself before spending GPU time.
const emulate = process.argv.includes('--emulate');
const sizes = emulate
  ? { matmul: [128], elements: 1 << 16, rows: 256, stress: 300, launches: 200 }
  : quick
    ? { matmul: [1024], elements: 1 << 24, rows: 4096, stress: 500, launches: 2000 }
    : { matmul: [1024, 4096, 8192], elements: 1 << 28, rows: 4096, stress: 5000, launches: 5000 };
mkdirSync(outDir, { recursive: true });
const report: Record<string, unknown> = { date: new Date().toISOString() };
const save = (): void => writeFileSync(join(outDir, 'cuda-check.json'), JSON.stringify(report, null, 2));
const log = (line: string): void => console.log(line);

async function main(): Promise<void> {
  const runtime = loadCudaRuntime({ emulate });
  registerCudaBackend({ runtime: () => runtime });
  const cuda = (await resolveBackend('cuda')) as CudaBackend;
  report.device = runtime.device;
  log(`device: ${runtime.device.name} (${runtime.device.arch}), ${(runtime.device.totalMemory / 2 ** 30).toFixed(1)} GiB, driver ${runtime.device.driverVersion}, ${runtime.device.compiler}`);

  // 1. compile every module (first use compiles with NVRTC; later runs read the disk cache)
  // A module that fails to compile is recorded and the run goes on (its parity cases then fail).
  const compile: Record<string, number | string> = {};
  for (const module of CUDA_MODULES) {
    const started = performance.now();
    try {
      cuda.module(module);
      compile[module.name] = Math.round(performance.now() - started);
    } catch (error) {
      compile[module.name] = `FAILED: ${(error as Error).message}`;
      log(`COMPILE FAIL ${module.name}: ${(error as Error).message}`);
    }
  }
  report.compileMs = compile;
  log(`compiled ${CUDA_MODULES.length} modules: ${JSON.stringify(compile)}`);
  save();

  // 2. parity, synchronizing after every launch so a device fault names its kernel
  runtime.setSynchronousLaunches(true);
  const seed = freshSeed();
  const rng = createRng(seed);
  const results: ParityResult[] = [];
  for (const c of parityCases()) {
    const result = await runParityCase(c, cuda, rng);
    results.push(result);
    if (!result.pass) log(`PARITY FAIL ${result.name}: error ${result.error} > ${result.tolerance}${result.detail ? `\n${result.detail}` : ''}`);
  }
  report.parity = { seed, passed: results.filter((r) => r.pass).length, failed: results.filter((r) => !r.pass).length, results };
  log(`parity: ${results.filter((r) => r.pass).length}/${results.length} passed (seed ${seed}; reproduce with KVKIT_SEED=${seed})`);
  runtime.setSynchronousLaunches(false);
  save();

  // 3. device-side input checks
  const checks: Record<string, string> = {};
  const x = tensor([1, 2, 3, 4], [4], { backend: cuda });
  const bad = tensor([0, 9], [2], { dtype: 'i32', backend: cuda });
  checks.gatherIndex = await gather(x, bad, 0)
    .read()
    .then(
      () => 'no error',
      (e: unknown) => (e instanceof IndexOutOfRangeError ? 'IndexOutOfRangeError' : String(e)),
    );
  const codes = tensor(Uint8Array.of(1, 2, 9), [3], { backend: cuda });
  checks.packCode = await packBits(codes, 3)
    .read()
    .then(
      () => 'no error',
      (e: unknown) => (e instanceof InvalidConfigError ? 'InvalidConfigError' : String(e)),
    );
  checks.afterwards = [...(await add(x, x).read())].join(',') === '2,4,6,8' ? 'usable' : 'wrong result';
  report.deviceChecks = checks;
  log(`device checks: ${JSON.stringify(checks)}`);
  save();

  // 4. allocation / free stress
  await cuda.synchronize();
  runtime.emptyCache();
  const before = runtime.memoryInfo();
  const stressRng = createRng(seed + 1);
  const live: Tensor[] = [];
  const iterations = sizes.stress;
  for (let i = 0; i < iterations; i++) {
    if (live.length > 64 || (live.length > 0 && stressRng.uniform() < 0.45)) live.splice(stressRng.int(live.length), 1)[0].dispose();
    else live.push(zeros([1 + stressRng.int(1 << (8 + stressRng.int(14)))], { backend: cuda, dtype: stressRng.uniform() < 0.5 ? 'f32' : 'f16' }));
  }
  for (const t of live) t.dispose();
  await cuda.synchronize();
  const peakCached = runtime.memoryInfo().cached;
  runtime.emptyCache();
  const after = runtime.memoryInfo();
  report.stress = { iterations, freeBefore: before.free, freeAfter: after.free, leakedBytes: before.free - after.free, peakCached, bytesInUse: cuda.bytesInUse() };
  log(`alloc/free stress: ${iterations} ops, device free before ${before.free}, after ${after.free} (diff ${before.free - after.free}), backend bytesInUse ${cuda.bytesInUse()}`);
  save();

  // 5. out of memory, then still usable
  let oom = emulate ? 'skipped on the emulator' : 'no error';
  try {
    if (!emulate) zeros([Math.floor((runtime.device.totalMemory * 1.5) / 4)], { backend: cuda });
  } catch (error) {
    oom = error instanceof OutOfMemoryError ? `OutOfMemoryError: ${error.message}` : String(error);
  }
  const stillOk = [...(await add(x, x).read())].join(',') === '2,4,6,8';
  report.outOfMemory = { error: oom, usableAfter: stillOk };
  log(`out of memory: ${oom.split(':')[0]}, usable after: ${stillOk}`);
  save();

  // 6. benchmarks
  report.bench = await benchmarks(cuda, runtime);
  save();
  printTable();
}


/** Awaits `run` with KVKIT_CUDA_MATMUL set to `kernel` (the matmul launcher reads it per call). */
async function withMatmulKernel<R>(kernel: string, run: () => Promise<R>): Promise<R> {
  const previous = process.env.KVKIT_CUDA_MATMUL;
  process.env.KVKIT_CUDA_MATMUL = kernel;
  try {
    return await run();
  } finally {
    if (previous === undefined) delete process.env.KVKIT_CUDA_MATMUL;
    else process.env.KVKIT_CUDA_MATMUL = previous;
  }
}

async function benchmarks(cuda: CudaBackend, runtime: ReturnType<typeof loadCudaRuntime>): Promise<Record<string, unknown>> {
  const rng = createRng(1);
  const out: Record<string, unknown> = {};
  const matmuls: Record<string, number> = {};
  // The same large f16/bf16 products on the 128×128 tensor-core kernel, which the default dispatch
  // replaces there by the 128×256 one: both timings from one run.
  const mma128: Record<string, number> = {};
  for (const n of sizes.matmul) {
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      if (n === 8192 && dtype === 'f32') continue;
      const a = await toBackend(randomUniform([n, n], rng, { dtype, low: -1, high: 1 }), cuda);
      const b = await toBackend(randomUniform([n, n], rng, { dtype, low: -1, high: 1 }), cuda);
      const tflops = (ms: number) => (2 * n ** 3) / (ms / 1000) / 1e12;
      const ms = await timeDeviceMs(runtime, cuda, n >= 4096 ? 10 : 50, () => matmul(a, b).dispose());
      matmuls[`${dtype} ${n}`] = tflops(ms);
      log(`matmul ${dtype} ${n}³: ${ms.toFixed(3)} ms, ${matmuls[`${dtype} ${n}`].toFixed(1)} TFLOP/s`);
      if (dtype !== 'f32' && (n >= 4096 || emulate)) {
        const ms128 = await withMatmulKernel('mma128', () => timeDeviceMs(runtime, cuda, 10, () => matmul(a, b).dispose()));
        mma128[`${dtype} ${n}`] = tflops(ms128);
        log(`matmul ${dtype} ${n}³ with KVKIT_CUDA_MATMUL=mma128: ${ms128.toFixed(3)} ms, ${mma128[`${dtype} ${n}`].toFixed(1)} TFLOP/s`);
      }
      a.dispose();
      b.dispose();
    }
  }
  out.matmulTflops = matmuls;
  out.matmulTflopsMma128 = mma128;

  const bandwidth: Record<string, number> = {};
  const elements = sizes.elements; // 1 GiB of f32 in the full run
  const big = zeros([elements], { backend: cuda });
  const big2 = zeros([elements], { backend: cuda });
  const gbps = (bytes: number, ms: number) => bytes / (ms / 1000) / 1e9;
  const bytes = elements * 4;
  bandwidth['copy f32 (copy engine)'] = gbps(2 * bytes, await timeDeviceMs(runtime, cuda, 10, () => contiguous(big).dispose()));
  bandwidth['add f32'] = gbps(3 * bytes, await timeDeviceMs(runtime, cuda, 10, () => add(big, big2).dispose()));
  bandwidth['exp f32'] = gbps(2 * bytes, await timeDeviceMs(runtime, cuda, 10, () => unary('exp', big).dispose()));
  const square = reshape(big, [elements >> 8, 256]);
  bandwidth['transpose copy f32 (tiled kernel)'] = gbps(2 * bytes, await timeDeviceMs(runtime, cuda, 5, () => contiguous(transpose(square)).dispose()));
  square.dispose();
  const rows = reshape(big, [elements / sizes.rows, sizes.rows]);
  bandwidth[`softmax f32 rows of ${sizes.rows}`] = gbps(2 * bytes, await timeDeviceMs(runtime, cuda, 5, () => softmax(rows).dispose()));
  const weight = zeros([sizes.rows], { backend: cuda });
  bandwidth[`rmsNorm f32 rows of ${sizes.rows}`] = gbps(2 * bytes, await timeDeviceMs(runtime, cuda, 5, () => rmsNorm(rows, weight).dispose()));
  weight.dispose();
  // The other memory-bound kernels the backend registers, each with the bytes it must move.
  bandwidth[`sum f32 rows of ${sizes.rows}`] = gbps(bytes, await timeDeviceMs(runtime, cuda, 5, () => reduce('sum', rows, { axis: -1 }).dispose()));
  const heads = reshape(big, [elements / (8 * 128), 8, 128]); // [tokens, heads, head dim]
  const positions = tensor(Int32Array.from({ length: 8 }, (_, i) => i), [8], { backend: cuda });
  const invFreq = tensor(Float32Array.from({ length: 64 }, (_, i) => 10000 ** (-i / 64)), [64], { backend: cuda });
  bandwidth['rope f32 (head dim 128)'] = gbps(2 * bytes, await timeDeviceMs(runtime, cuda, 5, () => rope(heads, positions, invFreq).dispose()));
  heads.dispose();
  positions.dispose();
  invFreq.dispose();
  bandwidth['cast f32 → f16'] = gbps(bytes + elements * 2, await timeDeviceMs(runtime, cuda, 5, () => cast(big, 'f16').dispose()));
  const table = reshape(big, [elements >> 8, 256]);
  const order = tensor(Int32Array.from({ length: elements >> 8 }, (_, i) => (i * 7919) % (elements >> 8)), [elements >> 8], { backend: cuda });
  bandwidth['gather f32 rows of 256 (a permutation)'] = gbps(2 * bytes, await timeDeviceMs(runtime, cuda, 5, () => gather(table, order).dispose()));
  table.dispose();
  order.dispose();
  const codes = zeros([elements >> 8, 256], { backend: cuda, dtype: 'u8' });
  const words = packBits(codes, 4, { groupSize: 32 });
  const wordBytes = (elements / 8) * 4; // 4-bit codes: 8 a word
  bandwidth['packBits u8 → 4-bit'] = gbps(elements + wordBytes, await timeDeviceMs(runtime, cuda, 5, () => packBits(codes, 4, { groupSize: 32 }).dispose()));
  bandwidth['unpackBits 4-bit → u8'] = gbps(elements + wordBytes, await timeDeviceMs(runtime, cuda, 5, () => unpackBits(words, 4, 256, { groupSize: 32 }).dispose()));
  codes.dispose();
  words.dispose();
  const half = zeros([elements], { backend: cuda, dtype: 'f16' });
  bandwidth['add f16'] = gbps(3 * elements * 2, await timeDeviceMs(runtime, cuda, 10, () => add(half, half).dispose()));
  const halfSquare = reshape(half, [elements >> 8, 256]);
  bandwidth['transpose copy f16 (tiled kernel)'] = gbps(2 * elements * 2, await timeDeviceMs(runtime, cuda, 5, () => contiguous(transpose(halfSquare)).dispose()));
  halfSquare.dispose();
  half.dispose();
  rows.dispose();
  big.dispose();
  big2.dispose();
  out.bandwidthGBps = bandwidth;
  for (const [k, v] of Object.entries(bandwidth)) log(`${k}: ${v.toFixed(0)} GB/s`);

  // Launch overhead from Node: a 1-element op (allocation, argument packing, cuLaunchKernel).
  const one = zeros([1], { backend: cuda });
  const launches = sizes.launches;
  await cuda.synchronize();
  let started = performance.now();
  for (let i = 0; i < launches; i++) unary('neg', one).dispose();
  const enqueueUs = ((performance.now() - started) * 1000) / launches;
  await cuda.synchronize();
  const deviceUs = (await timeDeviceMs(runtime, cuda, launches, () => unary('neg', one).dispose())) * 1000;
  started = performance.now();
  for (let i = 0; i < 200; i++) {
    unary('neg', one).dispose();
    await cuda.synchronize();
  }
  const roundTripUs = ((performance.now() - started) * 1000) / 200;
  one.dispose();
  out.launchOverheadUs = { hostEnqueuePerOp: enqueueUs, deviceTimePerOp: deviceUs, launchPlusSynchronize: roundTripUs };
  log(`launch overhead: ${enqueueUs.toFixed(2)} µs to enqueue an op from Node, ${deviceUs.toFixed(2)} µs device time per op, ${roundTripUs.toFixed(1)} µs op + synchronize`);
  return out;
}

function printTable(): void {
  const torchFile = join(outDir, 'torch.json');
  const torch = existsSync(torchFile) ? (JSON.parse(readFileSync(torchFile, 'utf8')) as { matmulTflops?: Record<string, number>; bandwidthGBps?: Record<string, number> }) : {};
  const parity = report.parity as { passed: number; failed: number };
  const stress = report.stress as { leakedBytes: number };
  const bench = report.bench as {
    matmulTflops: Record<string, number>;
    matmulTflopsMma128: Record<string, number>;
    bandwidthGBps: Record<string, number>;
    launchOverheadUs: Record<string, number>;
  };
  const ofTorch = (v: number | undefined, t: number | undefined) => (v !== undefined && t ? `${((100 * v) / t).toFixed(0)}%` : '—');
  const copy = torch.bandwidthGBps?.['copy f32'] ?? bench.bandwidthGBps['copy f32 (copy engine)'];
  const lines = [
    '',
    `| check | result |`,
    `|---|---|`,
    `| parity | ${parity.passed} passed, ${parity.failed} failed |`,
    `| device checks | ${JSON.stringify(report.deviceChecks)} |`,
    `| alloc/free stress | leaked ${stress.leakedBytes} bytes |`,
    `| out of memory | ${(report.outOfMemory as { error: string }).error.split(':')[0]}, usable after: ${(report.outOfMemory as { usableAfter: boolean }).usableAfter} |`,
    '',
    `| matmul | kvkit TFLOP/s | torch TFLOP/s | kvkit / torch | kvkit mma128 TFLOP/s | mma128 / torch |`,
    `|---|---|---|---|---|---|`,
    ...Object.entries(bench.matmulTflops).map(([k, v]) => {
      const t = torch.matmulTflops?.[k];
      const v128 = bench.matmulTflopsMma128[k];
      return `| ${k}³ | ${v.toFixed(1)} | ${t?.toFixed(1) ?? '—'} | ${ofTorch(v, t)} | ${v128?.toFixed(1) ?? '—'} | ${ofTorch(v128, t)} |`;
    }),
    '',
    `| memory-bound op | kvkit GB/s | % of torch copy (${copy.toFixed(0)} GB/s) | torch GB/s |`,
    `|---|---|---|---|`,
    ...Object.entries(bench.bandwidthGBps).map(([k, v]) => {
      const t = torch.bandwidthGBps?.[k.split(' (')[0]];
      return `| ${k} | ${v.toFixed(0)} | ${((100 * v) / copy).toFixed(0)}% | ${t?.toFixed(0) ?? '—'} |`;
    }),
    '',
    `launch overhead (µs): ${Object.entries(bench.launchOverheadUs).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`,
  ];
  report.table = lines.join('\n');
  save();
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  report.fatal = (error as Error).stack ?? String(error);
  save();
  console.error(error);
  process.exit(1);
});
