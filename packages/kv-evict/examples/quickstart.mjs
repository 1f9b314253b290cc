// A tour of @kvkit/kv-evict on random tensors (run after `npm run build`): node examples/quickstart.mjs
import { cpuBackend, createCache, createRng, denseCache, randomNormal, ropeInverseFrequencies } from '@kvkit/tensor-core';
import { h2o, listMethods, pyramidKV, raggedDenseStore } from '@kvkit/kv-evict';

const spec = {
  numLayers: 6, qHeads: 4, kvHeads: 2, headDim: 64, maxPositions: 2048, backend: cpuBackend(),
  rope: { invFreq: ropeInverseFrequencies(64, 10000), layout: 'half' },
};
const rng = createRng(7);

/** Prefill `prompt` tokens, then decode `steps` tokens, through every layer of `cache`. */
function run(cache, prompt = 512, steps = 16) {
  const positions = Int32Array.from({ length: prompt }, (_, i) => i);
  for (const layer of cache.layers) {
    layer.append(randomNormal([2, prompt, 64], rng), randomNormal([2, prompt, 64], rng), { positions, phase: 'prefill' });
    layer.attend(randomNormal([4, prompt, 64], rng), { positions }).output.dispose();
  }
  for (let t = prompt; t < prompt + steps; t++) {
    const at = Int32Array.of(t);
    for (const layer of cache.layers) {
      layer.append(randomNormal([2, 1, 64], rng), randomNormal([2, 1, 64], rng), { positions: at, phase: 'decode' });
      layer.attend(randomNormal([4, 1, 64], rng), { positions: at }).output.dispose();
    }
  }
  return cache.memory();
}

const dense = run(createCache(spec, denseCache({ dtype: 'f16' })));
// H2O at a quarter of the context: each KV head keeps its heavy hitters and recent tokens, at every step.
const evicted = run(createCache(spec, h2o({ budget: 0.25 })));
// SnapKV scores with PyramidKV layer budgets and Ada-KV head budgets, stored in f32.
const pyramid = createCache(spec, pyramidKV({ budget: 0.25, scorer: 'snapkv', heads: 'adaptive', store: raggedDenseStore({ dtype: 'f32' }) }));
run(pyramid);
console.log('dense bytes', dense.bytes, 'h2o bytes', evicted.bytes, `(${((100 * evicted.bytes) / dense.bytes).toFixed(1)}%)`);
console.log('h2o parts', evicted.parts);
console.log('pyramid layer budgets', pyramid.layers.map((l) => l.allocation().budget));
console.log('tokens per head, layer 0:', pyramid.layers[0].storedTokens());

// Harnesses list and build methods by name (kv-bench's `--methods "snapkv:budget=0.1"`).
console.log(listMethods().map((m) => m.name).join(', '));

