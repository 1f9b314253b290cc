/**
 * Decode-step cost of the low-rank cache layers against the dense cache on the CPU backend: one KV
 * layer of a small model (8 query heads over 4 KV heads, head_dim 64), n tokens prefilled, then the
 * CPU time of one decode step (append one token + attend), median of several steps, and the resident
 * bytes. Run: `npm run bench -w @kvkit/kv-lowrank`.
 */
import { type CacheLayerFactory, createCache, createRng, denseCache, matrix, ropeInverseFrequencies, tensor, cpuBackend } from '@kvkit/tensor-core';
import { KVCalibrationSet, cskv, eigenAttention, fitCskv, fitEigenAttention, fitPalu, palu, shadowKV } from '../src/index.js';

const backend = cpuBackend();
const rng = createRng(7);
const [qHeads, kvHeads, headDim] = [8, 4, 64];
const spec = { numLayers: 1, qHeads, kvHeads, headDim, maxPositions: 1 << 16, backend, rope: { invFreq: ropeInverseFrequencies(headDim, 10000), layout: 'half' as const } };
const random = (n: number, scale = 1) => Float32Array.from({ length: n }, (_, i) => scale * rng.normal() * Math.exp(-(i % headDim) / 16));

const set = new KVCalibrationSet({ ...spec, maxTokens: 256 });
set.add({ layerIndex: 0, key: tensor(random(kvHeads * 256 * headDim), [kvHeads, 256, headDim]), keyPreRope: tensor(random(kvHeads * 256 * headDim), [kvHeads, 256, headDim]), value: tensor(random(kvHeads * 256 * headDim), [kvHeads, 256, headDim]) });
const weight = () => matrix(kvHeads * headDim, 128, Array.from({ length: kvHeads * headDim * 128 }, () => rng.normal()));
set.setWeights(0, { k: weight(), v: weight() });
const eigenBases = fitEigenAttention(set);
const paluBases = fitPalu(set, { groupSize: 2 });
const cskvBases = fitCskv(set);

const methods: [string, CacheLayerFactory][] = [
  ['dense f16', denseCache()],
  ['eigen 50% (latent attention)', eigenAttention({ projections: eigenBases, ratio: 0.5 })],
  ['eigen 50% (rebuild K/V)', eigenAttention({ projections: eigenBases, ratio: 0.5, attend: 'reconstruct' })],
  ['eigen 25% (latent attention)', eigenAttention({ projections: eigenBases, ratio: 0.25 })],
  ['palu 50% (pre-RoPE rebuild)', palu({ projections: paluBases, ratio: 0.5 })],
  ['palu 50% + 4-bit', palu({ projections: paluBases, ratio: 0.5, bits: 4 })],
  ['cskv 50% + window 64', cskv({ projections: cskvBases, ratio: 0.5, window: 64 })],
  ['shadowkv 25%, budget 256', shadowKV({ ratio: 0.25, budget: 256, chunk: 8, outliers: 2, window: 32 })],
];

function cpuMs(run: () => void): number {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Median CPU time of `steps` decode steps (append one token + attend) after an n-token prefill. */
function measure(method: CacheLayerFactory, n: number, steps: number): { ms: number; bytes: number } {
  const layer = createCache(spec, method).layers[0];
  layer.append(tensor(random(kvHeads * n * headDim), [kvHeads, n, headDim]), tensor(random(kvHeads * n * headDim), [kvHeads, n, headDim]), {
    positions: Int32Array.from({ length: n }, (_, i) => i),
    phase: 'prefill',
  });
  const times: number[] = [];
  for (let step = 0; step < steps; step++) {
    const pos = Int32Array.of(n + step);
    const kt = tensor(random(kvHeads * headDim), [kvHeads, 1, headDim]);
    const vt = tensor(random(kvHeads * headDim), [kvHeads, 1, headDim]);
    const q = tensor(random(qHeads * headDim), [qHeads, 1, headDim]);
    times.push(
      cpuMs(() => {
        layer.append(kt, vt, { positions: pos, phase: 'decode' });
        layer.attend(q, { positions: pos }).output.dispose();
      }),
    );
  }
  times.sort((a, b) => a - b);
  const bytes = layer.memory().bytes;
  layer.dispose();
  return { ms: times[Math.floor(steps / 2)], bytes };
}

for (const [, method] of methods) measure(method, 256, 5); // warm up every code path first

console.log(`| method | n | decode step (ms CPU, median of 9) | resident bytes | vs dense |`);
console.log(`|---|---|---|---|---|`);
for (const n of [1024, 4096]) {
  let denseBytes = 0;
  for (const [name, method] of methods) {
    const { ms, bytes } = measure(method, n, 9);
    if (name.startsWith('dense')) denseBytes = bytes;
    console.log(`| ${name} | ${n} | ${ms.toFixed(1)} | ${bytes} | ${(bytes / denseBytes).toFixed(2)} |`);
  }
}
