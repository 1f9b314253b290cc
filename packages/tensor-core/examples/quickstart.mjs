// A tour of @kvkit/tensor-core on the CPU backend: tensors and dtypes, the packed 2-bit layout,
// grouped-query attention, and a dense KV cache with its honest memory report.
//   node examples/quickstart.mjs   (after `npm run build`)
import {
  attention, cpuBackend, createCache, createRng, denseCache, denseF16Bytes, matmul, packBits, randomInt, randomNormal,
  ropeInverseFrequencies, softmax, tensor, unpackBits,
} from '@kvkit/tensor-core';

const rng = createRng(7);

// 1. Tensors: f32/f16/bf16 storage, exact conversions, batched matmul.
const a = randomNormal([2, 3, 4], rng);
const b = randomNormal([4, 5], rng, { dtype: 'f32' });
console.log('matmul', a.toString(), '×', b.toString(), '→', matmul(a, b).shape.join('×'));
const half = tensor([1 / 3, 65504, 1e-7], [3], { dtype: 'f16' });
console.log('f16 round trip of [1/3, 65504, 1e-7] (1e-7 becomes a subnormal):', Array.from(half.readFloat32Sync()));
console.log('softmax([1, 2, 3]) =', Array.from(softmax(tensor([1, 2, 3], [3])).readSync(), (x) => x.toFixed(4)).join(', '));

// 2. The shared packed layout: 64 two-bit codes in 4 u32 words.
const codes = randomInt([64], 0, 4, rng, { dtype: 'u8' });
const words = packBits(codes, 2);
const same = unpackBits(words, 2, 64).readSync().every((c, i) => c === codes.readSync()[i]);
console.log(`packed 64 two-bit codes into ${words.shape[0]} words (${words.size * 4} bytes); round trip exact: ${same}`);

// 3. Grouped-query attention: 8 query heads read 2 KV heads, never repeated.
const q = randomNormal([8, 1, 64], rng);
const k = randomNormal([2, 100, 64], rng);
const v = randomNormal([2, 100, 64], rng);
const { output, statistics } = attention(q, k, v, { statistics: true });
const sums = statistics.keySum.readSync();
console.log(`decode attention → ${output.shape.join('×')}; attention mass per query head sums to ${sums.slice(0, 100).reduce((s, x) => s + x, 0).toFixed(6)}`);

// 4. A dense KV cache for a 4-layer model, 500 tokens, and what it really holds.
const spec = {
  numLayers: 4, qHeads: 8, kvHeads: 2, headDim: 64, maxPositions: 2048, backend: cpuBackend(),
  rope: { invFreq: ropeInverseFrequencies(64, 10000), layout: 'half' },
};
const cache = createCache(spec, denseCache({ dtype: 'f16' }));
const positions = Int32Array.from({ length: 500 }, (_, i) => i);
for (const layer of cache.layers) {
  layer.append(randomNormal([2, 500, 64], rng), randomNormal([2, 500, 64], rng), { positions, phase: 'prefill' });
}
const report = cache.memory();
console.log(`dense f16 cache: ${report.tokens} tokens, ${report.bytes} bytes resident`, report.parts);
console.log(`K+V bytes ${report.parts.keys + report.parts.values} = f16 baseline ${denseF16Bytes(500, 2, 64, 4)}; the rest is reserved capacity and positions`);
