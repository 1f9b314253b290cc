// A tour of @kvkit/kv-quant on the CPU backend: a KIVI-2 cache next to the dense f16 cache, the
// shared KIVI view, a calibrated KVQuant cache, and methods built from command-line specs.
//   node examples/quickstart.mjs   (after `npm run build`)
import { createCache, createRng, denseCache, denseF16Bytes, randomNormal, ropeInverseFrequencies, cpuBackend } from '@kvkit/tensor-core';
import { KVCalibrationCollector, kivi, kvquant, listMethods, methodFromSpec } from '@kvkit/kv-quant';

const rng = createRng(7);
const spec = {
  numLayers: 2, qHeads: 4, kvHeads: 2, headDim: 64, maxPositions: 4096, backend: cpuBackend(),
  rope: { invFreq: ropeInverseFrequencies(64, 10000), layout: 'half' },
};
const positions = (start, n) => Int32Array.from({ length: n }, (_, i) => start + i);

// 1. KIVI at 4 and 2 bits (keys per channel over 32 tokens, values per token over 32 channels,
//    128-token full-precision residual) next to the dense f16 cache. Random Gaussian K/V have no
//    structure to exploit, so the errors are larger than on a trained model's activations.
const n = 1024;
const kv = Array.from({ length: spec.numLayers }, () => [randomNormal([2, n, 64], rng), randomNormal([2, n, 64], rng)]);
const q = randomNormal([4, 1, 64], rng);
const dense = createCache(spec, denseCache({ dtype: 'f16' }));
kv.forEach(([k, v], i) => dense.layers[i].append(k, v, { positions: positions(0, n), phase: 'prefill' }));
const reference = dense.layers[0].attend(q, { positions: Int32Array.of(n) }).output.readFloat32Sync();
let quantized;
for (const bits of [4, 2]) {
  quantized = createCache(spec, kivi({ bits, groupSize: 32, residual: 128 }));
  kv.forEach(([k, v], i) => quantized.layers[i].append(k, v, { positions: positions(0, n), phase: 'prefill' }));
  const out = quantized.layers[0].attend(q, { positions: Int32Array.of(n) }).output.readFloat32Sync();
  const err = Math.sqrt(out.reduce((s, x, i) => s + (x - reference[i]) ** 2, 0) / reference.reduce((s, x) => s + x * x, 0));
  const m = quantized.memory();
  const ratio = denseF16Bytes(n, 2, 64, 2) / (m.bytes - m.parts.reserved);
  console.log(`KIVI-${bits}, ${n} tokens: attention error ${err.toFixed(3)} relative to f16; ${ratio.toFixed(2)}× smaller than f16 K/V (every overhead counted)`);
}
console.log('  KIVI-2 resident bytes by part:', quantized.memory().parts);
const view = quantized.layers[0].view();
console.log(`  KiviCacheView: ${view.keyGroups} key groups, ${view.valueTokens} quantized values, ${view.length - view.valueTokens} values in the residual`);

// 2. KVQuant fits on calibration activations (here synthetic; @kvkit/llm's forward pass feeds the collector).
const collector = new KVCalibrationCollector({ numLayers: 2, kvHeads: 2, headDim: 64, qHeads: 4, rope: spec.rope, maxTokens: 512 });
for (let layer = 0; layer < 2; layer++) {
  collector.observe(layer, { keys: randomNormal([2, 512, 64], rng), values: randomNormal([2, 512, 64], rng), queries: randomNormal([4, 512, 64], rng), positions: positions(0, 512) });
}
const calibration = collector.finish();
const kv3 = createCache(spec, kvquant({ calibration, bits: 3 }));
kv3.layers[0].append(randomNormal([2, 256, 64], rng), randomNormal([2, 256, 64], rng), { positions: positions(0, 256), phase: 'prefill' });
console.log(`KVQuant-3 takes ${kv3.layers[0].keyInput} keys; layer 0 holds`, kv3.layers[0].memory().parts);

// 3. Every method, as a harness lists and builds them.
console.log('methods:', listMethods().map((d) => `${d.name}(${d.params.map((p) => p.name).join(',')})`).join('  '));
const layer = methodFromSpec('rotatekv:bits=2:group=32', { calibration })({ ...spec, layerIndex: 0 });
console.log(`rotatekv:bits=2:group=32 → ${layer.constructor.name}, keys ${layer.keyInput}`);
