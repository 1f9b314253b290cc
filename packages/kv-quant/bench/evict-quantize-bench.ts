/**
 * Evict + quantize decode speed (a benchmark, not a test), CPU backend, one layer of kvkit-tiny's
 * geometry (2 KV heads, 4 query heads, head dim 64):
 *
 * 1. attention alone over one KV head of n kept tokens (4-bit codes, groups of 32, f16 scales):
 *    `decodeAttention` reading the codes in place, against dequantizing the head (what `view()`
 *    did on every attend) then attending, against f16 rows;
 * 2. a whole decode step (append + attend, eviction included) of H2O and SnapKV at 50% on the
 *    f16 store, on the quantized store read in place, and on the quantized store with its codes
 *    hidden (the dequantizing path, as before attention read codes).
 *
 * Variants run interleaved, round after round, and the median is reported, so a machine shared
 * with other jobs slows them alike.
 *
 *   npm run bench:evict-quantize -w @kvkit/kv-quant      (--json FILE writes the numbers)
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { decodeAttention } from '@kvkit/attention-kernels';
import { h2o, raggedDenseStore, snapKV } from '@kvkit/kv-evict';
import { type CacheLayerFactory, cpuBackend, createRng, type KVCacheLayer, type LayerSpec, ropeInverseFrequencies, tensor, type TokenStoreFactory } from '@kvkit/tensor-core';
import { quantizedStore } from '@kvkit/kv-quant'; // the built package (its CUDA sources are bundled there)
import { dequantizingViews } from '../test/dequantizing-views.js';

const H = 2;
const QH = 4;
const D = 64;
const rng = createRng(7);
const backend = cpuBackend();
const spec: LayerSpec = {
  numLayers: 1,
  qHeads: QH,
  kvHeads: H,
  headDim: D,
  maxPositions: 8192,
  backend,
  layerIndex: 0,
  rope: { invFreq: ropeInverseFrequencies(D, 10000), layout: 'half' },
};
const normal = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
const positions = (start: number, n: number) => Int32Array.from({ length: n }, (_, i) => start + i);

/** Interleaved rounds of every variant; milliseconds per call, median over rounds. */
function race(variants: Record<string, () => void>, rounds: number, callsPerRound: number): Record<string, number> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const run of Object.values(variants)) run(); // warm-up (JIT)
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(variants)) {
      const t0 = performance.now();
      for (let i = 0; i < callsPerRound; i++) run();
      times[name].push((performance.now() - t0) / callsPerRound);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, t]) => [k, t.sort((a, b) => a - b)[Math.floor(t.length / 2)]]));
}

const results: Record<string, unknown> = { machine: `${cpus()[0]?.model} ×${cpus().length}, Node ${process.version}`, date: new Date().toISOString() };

// 1. Attention alone, one KV head (its 2 query heads), one decode query.
const attentionRows: { n: number; codesMs: number; dequantizeThenAttendMs: number; f16Ms: number }[] = [];
for (const n of [256, 512, 1024, 2048]) {
  const store = quantizedStore({ bits: 4 })({ kvHeads: 1, headDim: D, backend, layerIndex: 0 });
  store.append(tensor(normal(n * D), [1, n, D]), tensor(normal(n * D), [1, n, D]), positions(0, n));
  const f16 = raggedDenseStore({ dtype: 'f16' })({ kvHeads: 1, headDim: D, backend, layerIndex: 0 });
  const read = store.read(0);
  f16.append(tensor(read.keys, [1, n, D]), tensor(read.values, [1, n, D]), positions(0, n));
  const q = tensor(normal(2 * D), [2, 1, D]);
  const options = { queryPositions: Int32Array.of(n), keyPositions: positions(0, n) };
  const attend = (keys: Parameters<typeof decodeAttention>[1], values: Parameters<typeof decodeAttention>[2]) => decodeAttention(q, keys, values, options).output.dispose();
  const t = race(
    {
      codes: () => {
        const view = store.view(0);
        attend({ codes: view.codes!.keys }, { codes: view.codes!.values });
        view.dispose();
      },
      dequantizeThenAttend: () => {
        const view = store.view(0);
        attend(view.keys, view.values);
        view.dispose();
      },
      f16: () => {
        const view = f16.view(0);
        attend(view.keys, view.values);
        view.dispose();
      },
    },
    9,
    Math.max(5, Math.round(20000 / n)),
  );
  attentionRows.push({ n, codesMs: t.codes, dequantizeThenAttendMs: t.dequantizeThenAttend, f16Ms: t.f16 });
  store.dispose();
  f16.dispose();
}
results.attention = attentionRows;
console.log('attention alone, one KV head (2 query heads), one query, 4-bit codes g32 f16 scales — ms per call (median)');
console.log('   n   codes   dequantize+attend   f16 rows   speed-up');
for (const r of attentionRows) {
  console.log(`${String(r.n).padStart(5)} ${r.codesMs.toFixed(3).padStart(7)} ${r.dequantizeThenAttendMs.toFixed(3).padStart(19)} ${r.f16Ms.toFixed(3).padStart(10)} ${(r.dequantizeThenAttendMs / r.codesMs).toFixed(2).padStart(9)}×`);
}

// 2. Decode steps of whole layers: a 1,024-token prompt, then steps of append + attend.
const PROMPT = 1024;
const prompt = { k: normal(H * PROMPT * D), v: normal(H * PROMPT * D), q: normal(QH * PROMPT * D) };
function layerAfterPrompt(factory: CacheLayerFactory): KVCacheLayer {
  const layer = factory(spec);
  layer.append(tensor(prompt.k, [H, PROMPT, D]), tensor(prompt.v, [H, PROMPT, D]), { positions: positions(0, PROMPT), phase: 'prefill' });
  layer.attend(tensor(prompt.q, [QH, PROMPT, D]), { positions: positions(0, PROMPT) }).output.dispose();
  return layer;
}
function stepper(factory: CacheLayerFactory): () => void {
  const layer = layerAfterPrompt(factory);
  let p = PROMPT;
  return () => {
    const k = tensor(normal(H * D), [H, 1, D]);
    const v = tensor(normal(H * D), [H, 1, D]);
    layer.append(k, v, { positions: Int32Array.of(p), phase: 'decode' });
    layer.attend(tensor(normal(QH * D), [QH, 1, D]), { positions: Int32Array.of(p) }).output.dispose();
    p++;
  };
}
const layerRows: { method: string; f16StoreMs: number; codesMs: number; dequantizingMs: number }[] = [];
for (const [name, method] of [
  ['h2o:budget=0.5', (store: TokenStoreFactory) => h2o({ budget: 0.5, store })],
  ['snapkv:budget=0.5', (store: TokenStoreFactory) => snapKV({ budget: 0.5, store })],
] as const) {
  const t = race(
    {
      f16: stepper(method(raggedDenseStore({ dtype: 'f16' }))),
      codes: stepper(method(quantizedStore({ bits: 4 }))),
      dequantizing: stepper(method(dequantizingViews(quantizedStore({ bits: 4 })))),
    },
    7,
    20,
  );
  layerRows.push({ method: name, f16StoreMs: t.f16, codesMs: t.codes, dequantizingMs: t.dequantizing });
}
results.decodeStep = layerRows;
console.log(`\ndecode step (append + attend) of one layer after a ${PROMPT}-token prompt — ms per step (median)`);
console.log('method              f16 store   +quant (codes read in place)   +quant (dequantized per attend)');
for (const r of layerRows) {
  console.log(`${r.method.padEnd(18)} ${r.f16StoreMs.toFixed(3).padStart(10)} ${r.codesMs.toFixed(3).padStart(30)} ${r.dequantizingMs.toFixed(3).padStart(33)}`);
}

const jsonAt = process.argv.indexOf('--json');
if (jsonAt > 0) writeFileSync(process.argv[jsonAt + 1], JSON.stringify(results, null, 2));
