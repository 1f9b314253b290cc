/**
 * CPU benchmark of the attention kernels (not a test): decode GB/s of KV read for dense f32/f16 and
 * fused KIVI 2/4-bit caches next to tensor-core's reference attention and this machine's measured
 * memory bandwidth, prefill time and FLOP rate of flash attention vs the reference, paged and
 * prefix-shared decode. Timings are medians of interleaved rounds, in CPU time of this process (the
 * machine is shared); the ceilings are re-measured in the same rounds as each row.
 *
 *   npm run bench -w @kvkit/attention-kernels            (table; --json FILE writes every number)
 *   npm run bench -w @kvkit/attention-kernels -- --quick (smaller sizes)
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { attention, bytesPerElement, createRng, randomNormal, type Rng, type Tensor, tensor, wordsPerRow } from '@kvkit/tensor-core';
import {
  decodeAttention,
  dequantizeKivi,
  flashAttention,
  type KiviCacheView,
  kiviDecodeAttention,
  PagedKVPool,
  PagedSequence,
  pagedAttention,
  prefixSharedAttention,
  PrefixKVTree,
} from '../src/index.js';

const quick = process.argv.includes('--quick');
const rng = createRng(20261126);
const results: Record<string, unknown>[] = [];

/** CPU seconds used by this process (user + system): unlike wall time, not inflated while other jobs hold the cores. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Median CPU seconds per call of each function, measured in interleaved rounds. CPU time rather
 * than wall time because this machine is shared: wall time counts the time other jobs held the core.
 */
function timeAll(fns: (() => void)[], roundSeconds = quick ? 0.15 : 0.3, rounds = 7): number[] {
  for (const f of fns) f(); // warm-up (JIT)
  const samples: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((f, i) => {
      let reps = 0;
      const start = cpuSeconds();
      let elapsed = 0;
      do {
        f();
        reps += 1;
        elapsed = cpuSeconds() - start;
      } while (elapsed < roundSeconds);
      samples[i].push(elapsed / reps);
    });
  }
  return samples.map((s) => s.sort((a, b) => a - b)[Math.floor(s.length / 2)]);
}

/**
 * Ceilings, measured again inside every comparison (the machine is shared, its speed drifts): a JS
 * read loop over 128 MiB (memory bandwidth a kernel written in JS can reach) and a register-blocked
 * multiply-add loop over an L1-resident tile (the scalar FMA rate of V8 here).
 */
const probeData = new Float32Array(32 * 1024 * 1024).fill(1);
const probeTile = Float32Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i));
const probeQ = Float64Array.from({ length: 4 * 64 }, (_, i) => Math.cos(i));
let sink = 0;
function readProbe(): void {
  const x = probeData;
  let s = 0;
  for (let i = 0; i < x.length; i += 4) s += x[i] + x[i + 1] + x[i + 2] + x[i + 3];
  sink += s;
}
const READ_PROBE_BYTES = probeData.byteLength;
function fmaProbe(): void {
  const k = probeTile;
  const q = probeQ;
  for (let rep = 0; rep < 64; rep++) {
    for (let t = 0; t < 64; t++) {
      let a = 0;
      let b = 0;
      let c = 0;
      let e = 0;
      for (let j = 0; j < 64; j++) {
        const x = k[t * 64 + j];
        a += q[j] * x;
        b += q[64 + j] * x;
        c += q[128 + j] * x;
        e += q[192 + j] * x;
      }
      sink += a + b + c + e;
    }
  }
}
const FMA_PROBE = 64 * 64 * 64 * 4;

function copyBandwidth(): number {
  const n = 32 * 1024 * 1024;
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n);
  const [copy] = timeAll([() => dst.set(src)], 0.5, 5);
  return (8 * n) / copy / 1e9;
}

/** A KIVI cache of random codes and scales (the kernel's speed does not depend on the values). */
function randomKivi(r: Rng, bits: 2 | 4, kvHeads: number, n: number, d: number, groupSize = 32, residual = 128): KiviCacheView {
  const keyGroups = Math.floor(Math.max(0, n - residual) / groupSize);
  const valueTokens = Math.max(0, n - residual);
  const words = (count: number) => Uint32Array.from({ length: count }, () => r.int(2 ** 31) * 2 + r.int(2));
  const f16 = (shape: number[]) => randomNormal(shape, r, { dtype: 'f16', std: 0.1 });
  const rk = n - keyGroups * groupSize;
  const rv = n - valueTokens;
  return {
    bits, groupSize, valueGroupSize: groupSize, kvHeads, headDim: d, length: n, keyGroups, valueTokens,
    keyCodes: tensor(words(kvHeads * keyGroups * d * wordsPerRow(groupSize, bits)), [kvHeads, keyGroups, d, wordsPerRow(groupSize, bits)], { dtype: 'u32' }),
    keyScale: f16([kvHeads, keyGroups, d]),
    keyMin: f16([kvHeads, keyGroups, d]),
    valueCodes: tensor(words(kvHeads * valueTokens * wordsPerRow(d, bits, groupSize)), [kvHeads, valueTokens, wordsPerRow(d, bits, groupSize)], { dtype: 'u32' }),
    valueScale: f16([kvHeads, valueTokens, d / groupSize]),
    valueMin: f16([kvHeads, valueTokens, d / groupSize]),
    residualKeys: f16([kvHeads, rk, d]),
    residualValues: f16([kvHeads, rv, d]),
    positions: tensor(Int32Array.from({ length: n }, (_, i) => i), [n], { dtype: 'i32' }),
  };
}

/** Bytes a fused kernel must read from a KIVI view: codes, scales, mins and residual rows. */
function kiviBytes(v: KiviCacheView): number {
  // elements per entry of axis 1 (tokens or groups) times the valid entries
  const b = (t: Tensor, rows: number) => t.shape.reduce((a, s, i) => (i === 1 ? a : a * s), 1) * rows * bytesPerElement(t.dtype);
  return (
    b(v.keyCodes, v.keyGroups) + b(v.keyScale, v.keyGroups) + b(v.keyMin, v.keyGroups) +
    b(v.valueCodes, v.valueTokens) + b(v.valueScale, v.valueTokens) + b(v.valueMin, v.valueTokens) +
    b(v.residualKeys, v.length - v.keyGroups * v.groupSize) + b(v.residualValues, v.length - v.valueTokens)
  );
}

const copyGBs = copyBandwidth();
const [readT, fmaT] = timeAll([readProbe, fmaProbe], 0.5, 5);
const bw = { copyGBs, readGBs: READ_PROBE_BYTES / readT / 1e9, gfmas: FMA_PROBE / fmaT / 1e9 };
const machine = `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
console.log(`machine: ${machine}; load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`ceilings at start: copy ${bw.copyGBs.toFixed(2)} GB/s (read+write), JS read loop ${bw.readGBs.toFixed(2)} GB/s, JS scalar FMA ${bw.gfmas.toFixed(2)} GFMA/s`);
console.log('(times are CPU time of this process; every row re-measures the read loop and the FMA loop in the same interleaved rounds, fractions are against those)\n');

const fmt = (x: number, digits = 2) => x.toFixed(digits);
console.log('decode (1 query token): GB/s of KV read, % of the JS read bandwidth; reference = tensor-core attention (non-fused for KIVI: dequantize + attention)');
console.log('shape (qH/kvH/d)  KV tokens  cache    ms kernel   GB/s  %read   GFMA/s  %fma |  ms ref   speed-up');
const decodeShapes: [number, number, number, number[]][] = quick
  ? [[4, 2, 64, [512, 2048]], [32, 8, 128, [4096]]]
  : [[4, 2, 64, [128, 512, 2048]], [32, 8, 128, [4096, 16384]]];
for (const [qHeads, kvHeads, d, lengths] of decodeShapes) {
  for (const n of lengths) {
    const q = randomNormal([qHeads, 1, d], rng);
    const fma = 2 * qHeads * n * d;
    const cases: { cache: string; bytes: number; kernel: () => void; reference: () => void }[] = [];
    for (const dtype of ['f32', 'f16'] as const) {
      const k = randomNormal([kvHeads, n, d], rng, { dtype });
      const v = randomNormal([kvHeads, n, d], rng, { dtype });
      cases.push({
        cache: dtype,
        bytes: 2 * kvHeads * n * d * bytesPerElement(dtype),
        kernel: () => decodeAttention(q, k, v).output.dispose(),
        reference: () => attention(q, k, v).output.dispose(),
      });
    }
    for (const bits of [2, 4] as const) {
      const view = randomKivi(rng, bits, kvHeads, n, d);
      cases.push({
        cache: `kivi${bits}`,
        bytes: kiviBytes(view),
        kernel: () => kiviDecodeAttention(q, view).output.dispose(),
        reference: () => {
          const { keys, values } = dequantizeKivi(view);
          attention(q, keys, values).output.dispose();
          keys.dispose();
          values.dispose();
        },
      });
    }
    for (const c of cases) {
      const [tk, tr, tRead, tFma] = timeAll([c.kernel, c.reference, readProbe, fmaProbe]);
      const gbs = c.bytes / tk / 1e9;
      const readGBs = READ_PROBE_BYTES / tRead / 1e9;
      const ceiling = FMA_PROBE / tFma / 1e9;
      const gfmas = fma / tk / 1e9;
      console.log(
        `${`${qHeads}/${kvHeads}/${d}`.padEnd(16)} ${String(n).padStart(9)}  ${c.cache.padEnd(6)} ${fmt(tk * 1e3, 3).padStart(10)} ${fmt(gbs).padStart(6)} ${fmt((100 * gbs) / readGBs, 1).padStart(5)}% ${fmt(gfmas).padStart(8)} ${fmt((100 * gfmas) / ceiling, 0).padStart(4)}% | ${fmt(tr * 1e3, 3).padStart(7)} ${fmt(tr / tk).padStart(8)}×`,
      );
      results.push({ bench: 'decode', qHeads, kvHeads, headDim: d, kvTokens: n, cache: c.cache, bytes: c.bytes, ms: tk * 1e3, gbs, readGBs, fractionOfReadBandwidth: gbs / readGBs, gfmas, fmaCeiling: ceiling, fractionOfFma: gfmas / ceiling, referenceMs: tr * 1e3 });
    }
  }
}

console.log('\nprefill (causal, f32): flashAttention vs the reference attention');
console.log('shape (qH/kvH/d)    tokens   ms flash  GFLOP/s  %fma |   ms ref  speed-up');
for (const [qHeads, kvHeads, d] of [[4, 2, 64], [8, 2, 128]] as const) {
  for (const n of quick ? [256] : [256, 1024, 2048]) {
    const q = randomNormal([qHeads, n, d], rng);
    const k = randomNormal([kvHeads, n, d], rng);
    const v = randomNormal([kvHeads, n, d], rng);
    const [tf, tr, tFma] = timeAll([() => flashAttention(q, k, v).output.dispose(), () => attention(q, k, v).output.dispose(), fmaProbe], quick ? 0.2 : 0.5, 3);
    const flops = 2 * 2 * qHeads * d * ((n * (n + 1)) / 2); // QKᵀ and PV over the visible pairs
    const ceiling = (2 * FMA_PROBE) / tFma / 1e9;
    console.log(
      `${`${qHeads}/${kvHeads}/${d}`.padEnd(16)} ${String(n).padStart(9)} ${fmt(tf * 1e3, 1).padStart(10)} ${fmt(flops / tf / 1e9).padStart(8)} ${fmt((100 * flops) / tf / 1e9 / ceiling, 0).padStart(4)}% | ${fmt(tr * 1e3, 1).padStart(8)} ${fmt(tr / tf).padStart(8)}×`,
    );
    results.push({ bench: 'prefill', qHeads, kvHeads, headDim: d, tokens: n, ms: tf * 1e3, gflops: flops / tf / 1e9, flopCeiling: ceiling, referenceMs: tr * 1e3 });
  }
}

console.log('\npaged and prefix-shared decode (32/8/128 heads; pages/chunks of 16 and 64 tokens)');
{
  const [qHeads, kvHeads, d] = [32, 8, 128];
  const prefix = quick ? 1024 : 4096;
  const own = 64;
  const batch = 8;
  const tree = new PrefixKVTree({ kvHeads, headDim: d, chunkSize: 64, dtype: 'f16' });
  const tokens = Int32Array.from({ length: prefix }, (_, i) => i % 1000);
  const seqs = Array.from({ length: batch }, (_, b) => {
    const seq = tree.openSequence();
    const all = Int32Array.from([...tokens, ...Array.from({ length: own }, () => 1000 + b)]);
    const positions = Int32Array.from(all, (_, i) => i);
    seq.append(randomNormal([kvHeads, all.length, d], rng), randomNormal([kvHeads, all.length, d], rng), positions, all);
    return seq;
  });
  const q = randomNormal([batch, qHeads, 1, d], rng);
  const qPos = Int32Array.from({ length: batch }, () => prefix + own);
  const qOne = randomNormal([qHeads, 1, d], rng);
  const pool = new PagedKVPool({ headDim: d, pageSize: 16, dtype: 'f16' });
  const paged = new PagedSequence(pool, kvHeads);
  const n = prefix + own;
  const k = randomNormal([kvHeads, n, d], rng, { dtype: 'f16' });
  const v = randomNormal([kvHeads, n, d], rng, { dtype: 'f16' });
  paged.append(k, v, Int32Array.from({ length: n }, (_, i) => i));
  const [tShared, tSeparate, tPaged, tDense] = timeAll([
    () => prefixSharedAttention(q, seqs, { queryPositions: qPos }).output.dispose(),
    () => seqs.forEach((s) => pagedAttention(qOne, s, { queryPositions: Int32Array.of(n) }).output.dispose()),
    () => pagedAttention(qOne, paged, { queryPositions: Int32Array.of(n) }).output.dispose(),
    () => decodeAttention(qOne, k, v).output.dispose(),
  ]);
  const bytes = 2 * kvHeads * n * d * 2;
  console.log(`dense f16, ${n} tokens: ${fmt(tDense * 1e3)} ms; paged (page 16): ${fmt(tPaged * 1e3)} ms (${fmt(bytes / tPaged / 1e9)} GB/s)`);
  console.log(`batch ${batch} sharing a ${prefix}-token prefix (+${own} own each): two-phase ${fmt(tShared * 1e3)} ms vs one request at a time ${fmt(tSeparate * 1e3)} ms (${fmt(tSeparate / tShared)}×); tree holds ${tree.chunkCount} chunks instead of ${batch * Math.ceil(n / 64)}`);
  results.push({ bench: 'paged', pageSize: 16, kvTokens: n, ms: tPaged * 1e3, denseMs: tDense * 1e3 });
  results.push({ bench: 'prefix-shared', batch, prefix, own, chunkSize: 64, twoPhaseMs: tShared * 1e3, separateMs: tSeparate * 1e3, chunks: tree.chunkCount });
}

const jsonIndex = process.argv.indexOf('--json');
if (jsonIndex > 0) writeFileSync(process.argv[jsonIndex + 1], JSON.stringify({ date: new Date().toISOString(), machine, loadAverage: loadavg(), ceilings: bw, results }, null, 2));
if (sink === 0.5) console.log(sink); // keeps the probes' work observable
