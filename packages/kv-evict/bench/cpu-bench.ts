/**
 * Time and memory of kv-evict methods against the dense cache on the CPU backend, at the shape of
 * the project's model (6 layers, 4 query heads, 2 KV heads, head_dim 64): prefill a prompt, then
 * decode. Random K/V/Q (quality is kv-bench's job; this measures the runtime's own cost).
 *
 *   npm run bench -w @kvkit/kv-evict            (PROMPT=1024 DECODE=64 REPEAT=3 to change the sizes)
 *
 * Times are the minimum over REPEAT runs (the machine may be shared); bytes are deterministic.
 */
import { type CacheLayerFactory, cpuBackend, createCache, createRng, denseCache, denseF16Bytes, ropeInverseFrequencies, tensor } from '@kvkit/tensor-core';
import { clusterKV, h2o, l2norm, pyramidKV, snapKV, streamingLLM, a2sf } from '../src/index.js';

const prompt = Number(process.env.PROMPT ?? 1024);
const decode = Number(process.env.DECODE ?? 64);
const repeat = Number(process.env.REPEAT ?? 3);
const spec = { numLayers: 6, qHeads: 4, kvHeads: 2, headDim: 64, maxPositions: 4096, backend: cpuBackend(), rope: { invFreq: ropeInverseFrequencies(64, 10000), layout: 'half' as const } };
const rng = createRng(1);
const random = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
const promptK = random(2 * prompt * 64);
const promptV = random(2 * prompt * 64);
const promptQ = random(4 * prompt * 64);
const steps = Array.from({ length: decode }, () => ({ k: random(128), v: random(128), q: random(256) }));

function measure(method: CacheLayerFactory): { prefillMs: number; decodeMs: number; bytes: number; kv: number } {
  const cache = createCache(spec, method);
  const positions = Int32Array.from({ length: prompt }, (_, i) => i);
  let start = performance.now();
  for (const layer of cache.layers) {
    layer.append(tensor(promptK, [2, prompt, 64], { dtype: 'f16' }), tensor(promptV, [2, prompt, 64], { dtype: 'f16' }), { positions, phase: 'prefill' });
    layer.attend(tensor(promptQ, [4, prompt, 64], { dtype: 'f16' }), { positions }).output.dispose();
  }
  const prefillMs = performance.now() - start;
  start = performance.now();
  steps.forEach((s, t) => {
    const pos = Int32Array.of(prompt + t);
    for (const layer of cache.layers) {
      layer.append(tensor(s.k, [2, 1, 64], { dtype: 'f16' }), tensor(s.v, [2, 1, 64], { dtype: 'f16' }), { positions: pos, phase: 'decode' });
      layer.attend(tensor(s.q, [4, 1, 64], { dtype: 'f16' }), { positions: pos }).output.dispose();
    }
  });
  const decodeMs = (performance.now() - start) / decode;
  const memory = cache.memory();
  cache.dispose();
  return { prefillMs, decodeMs, bytes: memory.bytes, kv: memory.parts.keys + memory.parts.values };
}

function run(name: string, method: CacheLayerFactory): string {
  const runs = Array.from({ length: repeat }, () => measure(method));
  const prefillMs = Math.min(...runs.map((r) => r.prefillMs));
  const decodeMs = Math.min(...runs.map((r) => r.decodeMs));
  const { bytes, kv } = runs[0];
  const dense = denseF16Bytes(prompt + decode, spec.kvHeads, spec.headDim, spec.numLayers);
  return `| ${name} | ${prefillMs.toFixed(0)} | ${decodeMs.toFixed(2)} | ${(bytes / 1024).toFixed(0)} | ${(kv / 1024).toFixed(0)} | ${(bytes / dense).toFixed(3)} |`;
}

const rows = [
  ['dense (tensor-core)', denseCache({ dtype: 'f16' })],
  ['streaming budget=0.25', streamingLLM({ budget: 0.25 })],
  ['h2o budget=0.25', h2o({ budget: 0.25 })],
  ['a2sf budget=0.25', a2sf({ budget: 0.25 })],
  ['snapkv budget=0.25', snapKV({ budget: 0.25 })],
  ['l2norm budget=0.25', l2norm({ budget: 0.25 })],
  ['pyramidkv budget=0.25', pyramidKV({ budget: 0.25 })],
  ['h2o budget=0.25 interval=16', h2o({ budget: 0.25, trigger: { interval: 16 } })],
  ['clusterkv budget=0.25', clusterKV({ budget: 0.25 })],
] as const;

console.log(`min of ${repeat} runs; prompt ${prompt}, decode ${decode} steps, ${spec.numLayers} layers × ${spec.kvHeads} KV heads × ${spec.headDim}, f16 storage, CPU backend`);
console.log('| method | prefill ms | decode ms/step | resident KiB | K+V KiB | bytes / dense f16 |');
console.log('|---|---|---|---|---|---|');
for (const [name, method] of rows) console.log(run(name, method));
