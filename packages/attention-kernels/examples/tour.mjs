// A tour of @kvkit/attention-kernels on the CPU. Run after `npm run build`:
//   node packages/attention-kernels/examples/tour.mjs
import { attention, cpuBackend, createCache, createRng, randomNormal, slice } from '@kvkit/tensor-core';
import {
  attentionStatistics,
  decodeAttention,
  flashAttention,
  latentAttention,
  mergeAttentionStates,
  pagedCache,
  poolKeyScores,
  prefixSharedCache,
  reduceQueryGroups,
} from '@kvkit/attention-kernels';

const rng = createRng(7);
const rel = (a, b) => {
  const x = a.readFloat32Sync();
  const y = b.readFloat32Sync();
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += y[i] ** 2;
  }
  return Math.sqrt(num / den).toExponential(1);
};

// 1. Prefill: 8 query heads read 2 KV heads (GQA, never repeated), causal, tiled with online softmax.
const q = randomNormal([8, 300, 64], rng);
const k = randomNormal([2, 300, 64], rng);
const v = randomNormal([2, 300, 64], rng);
const prefill = flashAttention(q, k, v, { statistics: { window: 32 } }); // SnapKV window statistics in the same pass
console.log('flash vs reference:', rel(prefill.output, attention(q, k, v).output));

// 2. SnapKV-style scores: window statistics, aggregated per KV head, max-pooled over 7 neighbours.
const perKvHead = reduceQueryGroups(prefill.statistics.keySum, 2, 'mean');
console.log('SnapKV scores:', poolKeyScores(perKvHead, { kernelSize: 7, mode: 'max' }).shape);

// 3. Decode: split-K over the cache; two halves merged by log-sum-exp give the same answer.
const q1 = randomNormal([8, 1, 64], rng);
const whole = decodeAttention(q1, k, v, { partitionSize: 128 });
const qPos = Int32Array.of(299);
const half = (a, b) => decodeAttention(q1, slice(k, [0, a], [2, b]), slice(v, [0, a], [2, b]), {
  queryPositions: qPos,
  keyPositions: Int32Array.from({ length: b - a }, (_, i) => a + i),
  returnLse: true,
});
const [x, y] = [half(0, 150), half(150, 300)];
console.log('merged halves vs whole:', rel(mergeAttentionStates([{ output: x.output, lse: x.lse }, { output: y.output, lse: y.lse }]).output, whole.output));

// 4. H2O-style accumulated attention of the last query over the cache.
const h2o = attentionStatistics(q1, k);
console.log('keySum per query head:', h2o.keySum.shape, 'visible-query counts per KV head:', h2o.queryCount.shape);

// 5. A paged cache layer (per-head block tables): head-wise eviction gives pages back.
const spec = { numLayers: 1, qHeads: 8, kvHeads: 2, headDim: 64, maxPositions: 4096, backend: cpuBackend(), rope: { invFreq: new Float32Array(32), layout: 'half' } };
const cache = createCache(spec, pagedCache({ pageSize: 16, dtype: 'f32' }));
const layer = cache.layers[0];
layer.append(k, v, { positions: Int32Array.from({ length: 300 }, (_, i) => i), phase: 'prefill' });
console.log('paged attend vs reference:', rel(layer.attend(q1, { positions: qPos }).output, attention(q1, k, v).output));
const before = layer.memory().bytes;
layer.retain([Int32Array.from({ length: 60 }, (_, i) => 240 + i), Int32Array.from({ length: 100 }, (_, i) => 3 * i)]);
console.log(`head lengths ${[...layer.headLengths()]}, memory ${before} → ${layer.memory().bytes} bytes`);

// 6. Prefix sharing: three requests with one system prompt store it once.
const shared = prefixSharedCache({ chunkSize: 32, dtype: 'f32' });
const system = Int32Array.from({ length: 256 }, (_, i) => (i * 31) % 500);
const prefixK = randomNormal([2, 256, 64], rng);
const prefixV = randomNormal([2, 256, 64], rng);
const requests = [0, 1, 2].map(() => createCache(spec, shared));
for (const r of requests) r.layers[0].append(prefixK, prefixV, { positions: Int32Array.from({ length: 256 }, (_, i) => i), tokenIds: system, phase: 'prefill' });
console.log(`prefix tree: ${shared.trees.get(0).chunkCount} chunks for 3 × 8 chunks of prompt`);

// 7. Low-rank caches: attention in a rank-16 latent space (the caller projects q, then the output).
const latent = latentAttention(randomNormal([8, 1, 16], rng), randomNormal([2, 300, 16], rng), randomNormal([2, 300, 24], rng), { scale: 1 / 8 });
console.log('latent output:', latent.output.shape);
