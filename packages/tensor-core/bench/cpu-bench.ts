/**
 * CPU backend benchmark (not a test): matmul GFLOP/s at several sizes and decode-attention
 * throughput in GB/s of KV read, next to this machine's memory bandwidth measured in the same run.
 *
 *   npm run bench -w @kvkit/tensor-core            (prints a table; --json FILE writes the numbers)
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { attention, createRng, gatedDeltaRule, matmul, randomNormal, randomUniform, selectiveScan, setSimdKernels, type Tensor } from '../src/index.js';

function timeIt(run: () => void, minSeconds = 0.5): number {
  run(); // warm-up (JIT, caches)
  let reps = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    run();
    reps += 1;
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < minSeconds);
  return elapsed / reps;
}

/** Bandwidth ceilings: a native memcpy (TypedArray.set) and a JS read loop over 256 MiB. */
function measureBandwidth(): { copyGBs: number; readGBs: number } {
  const n = 64 * 1024 * 1024; // 64 Mi floats = 256 MiB
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n);
  const copy = timeIt(() => dst.set(src), 1);
  let sink = 0;
  const read = timeIt(() => {
    let s = 0;
    for (let i = 0; i < n; i += 4) s += src[i] + src[i + 1] + src[i + 2] + src[i + 3];
    sink += s;
  }, 1);
  if (sink === -1) console.log(sink);
  return { copyGBs: (2 * 4 * n) / copy / 1e9, readGBs: (4 * n) / read / 1e9 };
}

const rng = createRng(1234);
const results: Record<string, unknown>[] = [];
const bandwidth = measureBandwidth();
console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
console.log(`memory bandwidth: copy ${bandwidth.copyGBs.toFixed(2)} GB/s (read+write), JS read loop ${bandwidth.readGBs.toFixed(2)} GB/s`);

console.log('\nmatmul (f32, single thread)');
console.log('shape                      GFLOP/s   ms');
for (const [m, k, n, tb] of [
  [64, 64, 64, false],
  [256, 256, 256, false],
  [256, 256, 256, true],
  [512, 512, 512, true],
  [1, 4096, 4096, true],
  [1024, 256, 768, true],
] as const) {
  const a = randomNormal([m, k], rng);
  const b = randomNormal(tb ? [n, k] : [k, n], rng);
  const seconds = timeIt(() => matmul(a, b, { transposeB: tb }).dispose());
  const gflops = (2 * m * n * k) / seconds / 1e9;
  const label = `${m}×${k}·${tb ? `(${n}×${k})ᵀ` : `${k}×${n}`}`;
  console.log(`${label.padEnd(26)} ${gflops.toFixed(2).padStart(7)}   ${(seconds * 1e3).toFixed(2)}`);
  results.push({ bench: 'matmul', m, k, n, transposeB: tb, gflops, ms: seconds * 1e3 });
}

console.log('\ndecode attention (reference kernel, 1 query token, 8 query heads / 2 KV heads, head_dim 64)');
console.log('KV tokens  dtype   GB/s KV read   % of JS read bandwidth   ms');
for (const n of [1024, 4096, 16384]) {
  for (const dtype of ['f32', 'f16'] as const) {
    const q: Tensor = randomNormal([8, 1, 64], rng);
    const k = randomNormal([2, n, 64], rng, { dtype });
    const v = randomNormal([2, n, 64], rng, { dtype });
    const seconds = timeIt(() => attention(q, k, v).output.dispose());
    const bytes = 2 * 2 * n * 64 * (dtype === 'f32' ? 4 : 2);
    const gbs = bytes / seconds / 1e9;
    console.log(`${String(n).padStart(9)}  ${dtype.padEnd(5)} ${gbs.toFixed(2).padStart(13)}   ${((100 * gbs) / bandwidth.readGBs).toFixed(1).padStart(20)}%   ${(seconds * 1e3).toFixed(2)}`);
    results.push({ bench: 'decode-attention', kvTokens: n, dtype, gbs, fractionOfReadBandwidth: gbs / bandwidth.readGBs, ms: seconds * 1e3 });
  }
}

/**
 * A recurrent kernel (one call over `rows` rows from an f32 state of `stateValues` values) timed in
 * WebAssembly SIMD and as the JavaScript loop, one table row each: ms per call and per row, and the
 * state read and written once per call against the copy bandwidth (a decode step's ceiling).
 */
function simdAgainstLoop(bench: string, rows: number, stateValues: number, call: () => Tensor[]): void {
  for (const kernel of ['simd', 'js loop'] as const) {
    setSimdKernels(kernel === 'simd');
    timeRecurrent(bench, rows, kernel, stateValues, call);
    setSimdKernels(true);
  }
}

/** One table row of a recurrent kernel's timing (see `simdAgainstLoop`), with the path it took named `kernel`. */
function timeRecurrent(bench: string, rows: number, kernel: string, stateValues: number, call: () => Tensor[]): void {
  const seconds = timeIt(() => {
    for (const t of call()) t.dispose();
  });
  const gbs = (2 * 4 * stateValues) / seconds / 1e9;
  console.log(`${String(rows).padStart(4)}  ${kernel.padEnd(9)} ${(seconds * 1e3).toFixed(3).padStart(12)} ${((seconds * 1e3) / rows).toFixed(3).padStart(12)} ${gbs.toFixed(2).padStart(28)} ${((100 * gbs) / bandwidth.copyGBs).toFixed(1).padStart(21)}%`);
  results.push({ bench, rows, kernel, ms: seconds * 1e3, stateGBs: gbs, fractionOfCopyBandwidth: gbs / bandwidth.copyGBs });
}
const RECURRENT_HEADER = 'rows  kernel      ms per call   ms per row   GB/s of state read+written   % of copy bandwidth';

// One Mamba-2 layer of Granite-4.0-H-Tiny's shape: 48 heads of 64 channels, d_state 128, one group.
// A decode step reads and writes the whole f32 state (1.5 MiB), so its ceiling is the copy bandwidth.
console.log('\nselective scan (Mamba-2, 48 heads × 64 channels × d_state 128, f32)');
console.log(RECURRENT_HEADER);
{
  const [heads, headDim, dState] = [48, 64, 128];
  const state = randomNormal([heads, headDim, dState], rng);
  const a = randomUniform([heads], rng, { low: -2, high: -0.1 });
  for (const rows of [1, 64]) {
    const x = randomNormal([rows, heads, headDim], rng);
    const dt = randomUniform([rows, heads], rng, { low: 0.05, high: 1 });
    const b = randomNormal([rows, 1, dState], rng);
    const c = randomNormal([rows, 1, dState], rng);
    simdAgainstLoop('selective-scan', rows, heads * headDim * dState, () => Object.values(selectiveScan(x, dt, a, b, c, state)));
  }
}

// One Mamba-1 layer of Jamba 1.5 Mini's shape: d_inner 8192 channels (each a head of one), d_state 16, a decay
// rate per channel and state entry: one exp per state entry and row (in the SIMD kernel, four at a time).
console.log('\nselective scan (Mamba-1, 8192 channels × d_state 16, rates per state entry, f32)');
console.log(RECURRENT_HEADER);
{
  const [channels, dState] = [8192, 16];
  const state = randomNormal([channels, 1, dState], rng);
  const a = randomUniform([channels, dState], rng, { low: -2, high: -0.1 });
  for (const rows of [1, 64]) {
    const x = randomNormal([rows, channels, 1], rng);
    const dt = randomUniform([rows, channels], rng, { low: 0.01, high: 0.5 });
    const b = randomNormal([rows, 1, dState], rng);
    const c = randomNormal([rows, 1, dState], rng);
    simdAgainstLoop('selective-scan-mamba1', rows, channels * dState, () => Object.values(selectiveScan(x, dt, a, b, c, state)));
  }
}

// One Gated DeltaNet layer of Qwen3.5-9B's shape: 32 value heads over 16 key heads, dk = dv = 128.
// A call reads and writes the whole f32 state (2 MiB) at least once (each row passes over it twice: decay and
// Sᵀk, then the update and Sᵀq; a head's 64 KiB stays in cache between them), so its ceiling is the copy bandwidth.
console.log('\ngated delta rule (Qwen3.5, 32 value heads / 16 key heads, dk = dv = 128, f32)');
console.log(RECURRENT_HEADER);
{
  const [keyHeads, heads, dk, dv] = [16, 32, 128, 128];
  const state = randomNormal([heads, dk, dv], rng);
  for (const rows of [1, 64]) {
    const q = randomNormal([rows, keyHeads, dk], rng, { std: dk ** -0.5 });
    const k = randomNormal([rows, keyHeads, dk], rng, { std: dk ** -0.5 });
    const v = randomNormal([rows, heads, dv], rng);
    const g = randomUniform([rows, heads], rng, { low: -1, high: -0.01 });
    const beta = randomUniform([rows, heads], rng, { low: 0.05, high: 0.95 });
    simdAgainstLoop('gated-delta-rule', rows, heads * dk * dv, () => Object.values(gatedDeltaRule(q, k, v, g, beta, state)));
  }
}

const jsonIndex = process.argv.indexOf('--json');
if (jsonIndex > 0) {
  writeFileSync(process.argv[jsonIndex + 1], JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0]?.model, bandwidth, results }, null, 2));
}
