/**
 * kv-quant benchmark (not a test), CPU backend, one layer of kvkit-tiny's geometry (2 KV heads,
 * 4 query heads, head dim 64): per method, the prefill time of 2048 tokens, the time of one decode
 * step (append + attend) at 2048 tokens next to the dense f16 cache, and the resident bytes against
 * f16 K/V (every overhead counted). Synthetic K/V (Gaussian, two outlier key channels) and a
 * synthetic calibration: timings and bytes are meaningful, quality is not (that is kv-bench's job).
 *
 *   npm run bench -w @kvkit/kv-quant            (prints a table; --json FILE writes the numbers)
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import {
  type CacheLayerFactory,
  cpuBackend,
  createRng,
  denseCache,
  denseF16Bytes,
  type LayerSpec,
  type MethodContext,
  resolveParams,
  ropeInverseFrequencies,
  tensor,
} from '@kvkit/tensor-core';
import { KVCalibration, listMethods, methodFromSpec } from '../src/index.js';

const H = 2;
const QH = 4;
const D = 64;
const N = 2048;
const rng = createRng(2024);
const spec: LayerSpec = {
  numLayers: 1,
  qHeads: QH,
  kvHeads: H,
  headDim: D,
  maxPositions: 4096,
  backend: cpuBackend(),
  layerIndex: 0,
  rope: { invFreq: ropeInverseFrequencies(D, 10000), layout: 'half' },
};

function keys(n: number): Float32Array {
  const x = Float32Array.from({ length: H * n * D }, () => rng.normal());
  for (let i = 0; i < x.length; i += D) {
    x[i + 7] += 6;
    x[i + 40] -= 6;
  }
  return x;
}
const values = (n: number) => Float32Array.from({ length: H * n * D }, () => rng.normal());
const positions = (start: number, n: number) => Int32Array.from({ length: n }, (_, i) => start + i);

const calibrationTokens = 512;
const context: MethodContext = {
  calibration: KVCalibration.fromSamples({
    kvHeads: H,
    headDim: D,
    qHeads: QH,
    rope: spec.rope,
    layers: [
      {
        keys: keys(calibrationTokens),
        values: values(calibrationTokens),
        positions: positions(0, calibrationTokens),
        queries: Float32Array.from({ length: QH * calibrationTokens * D }, () => rng.normal()),
      },
    ],
  }),
};

const prefillK = tensor(keys(N), [H, N, D]);
const prefillV = tensor(values(N), [H, N, D]);
const prefillQ = tensor(
  Float32Array.from({ length: QH * 64 * D }, () => rng.normal()),
  [QH, 64, D]
);

function measure(label: string, factory: CacheLayerFactory, steps = 16) {
  const tf = performance.now();
  const layer = factory(spec); // fits on the calibration here (once per factory and layer)
  const fitMs = performance.now() - tf;
  const t0 = performance.now();
  layer.append(prefillK, prefillV, { positions: positions(0, N), phase: 'prefill' });
  // The tail of the prompt attends (mixed-precision layers need statistics before they quantize).
  layer.attend(prefillQ, { positions: positions(N - 64, 64) }).output.dispose();
  const prefillMs = performance.now() - t0;
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const k = tensor(keys(1), [H, 1, D]);
    const v = tensor(values(1), [H, 1, D]);
    const q = tensor(
      Float32Array.from({ length: QH * D }, () => rng.normal()),
      [QH, 1, D]
    );
    const start = performance.now();
    layer.append(k, v, { positions: Int32Array.of(N + s), phase: 'decode' });
    layer.attend(q, { positions: Int32Array.of(N + s) }).output.dispose();
    times.push(performance.now() - start);
    for (const t of [k, v, q]) t.dispose();
  }
  times.sort((a, b) => a - b);
  const m = layer.memory();
  const used = m.bytes - (m.parts.reserved ?? 0);
  layer.dispose();
  return {
    method: label,
    fitMs,
    prefillMs,
    decodeMs: times[Math.floor(times.length / 2)],
    bytesPerToken: used / m.tokens,
    ratio: denseF16Bytes(m.tokens, H, D, 1) / used,
    parts: m.parts,
  };
}

const methods: [string, () => CacheLayerFactory][] = [
  ['dense f16', () => denseCache({ dtype: 'f16' })],
  ...listMethods().map((m): [string, () => CacheLayerFactory] => [`${m.name} (defaults)`, () => m.create(resolveParams(m, {}), context)]),
  ...['kivi:bits=4', 'kivi:bits=2:residual=32', 'uniform:bits=2', 'kvquant:bits=2', 'rotatekv:bits=4', 'cq:channels=4:bits=2'].map(
    (s): [string, () => CacheLayerFactory] => [s, () => methodFromSpec(s, context)]
  ),
];
for (const [label, make] of methods) measure(label, make(), 4); // warm-up pass (JIT), not reported
const rows = methods.map(([label, make]) => measure(label, make()));

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
console.log(`one layer, ${H} KV heads × ${D}, ${N}-token prefill; decode step = append + attend at ${N} tokens (median of 16, after a warm-up pass)`);
console.log('method                            fit ms  prefill ms  decode ms  bytes/token  vs f16');
for (const r of rows) {
  console.log(
    `${r.method.padEnd(32)}${r.fitMs.toFixed(0).padStart(8)}${r.prefillMs.toFixed(0).padStart(12)}${r.decodeMs
      .toFixed(1)
      .padStart(11)}${r.bytesPerToken.toFixed(1).padStart(13)}${r.ratio.toFixed(2).padStart(8)}×`
  );
}
const out = process.argv.indexOf('--json');
if (out > 0) writeFileSync(process.argv[out + 1], JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
