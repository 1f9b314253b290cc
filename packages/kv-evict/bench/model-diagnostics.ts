/**
 * Why some methods score as they do on the project's model: the premises of L2-norm (low key norm
 * ⇒ high attention), MiniCache (adjacent layers hold similar K/V directions) and FastGen (heads
 * whose attention a cheap policy recovers), measured on kvkit-tiny and its held-out text, plus the
 * L2-norm rule against random and reversed rankings at the same budget.
 *
 *   npm run diagnose -w @kvkit/kv-evict        (MODEL=dir, TOKENS=512, PPL=0 skips the perplexity runs)
 *
 * Two windows of TOKENS tokens (start and middle of eval/test.txt). Perplexity runs prefill the first
 * half and decode the second through the cache, like kv-bench (at a smaller size).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel } from '@kvkit/llm';
import { type CacheLayerFactory, denseCache, type LayerSpec } from '@kvkit/tensor-core';
import {
  angleBetween,
  type CompressingLayer,
  compressingLayer,
  fastGen,
  FASTGEN_POLICIES,
  keyNormScorer,
  l2norm,
  type TokenScorer,
  tokenClassesFromVocabulary,
} from '../src/index.js';

const modelDir = process.env.MODEL ?? fileURLToPath(new URL('../../../models/kvkit-tiny', import.meta.url));
const tokens = Number(process.env.TOKENS ?? 512);
const model = await loadModel(modelDir);
const ids = model.tokenizer.encode(readFileSync(`${modelDir}/eval/test.txt`, 'utf8'));
const windows = [0, Math.floor(ids.length / 2)].map((start) => ids.subarray(start, start + tokens));
const { numLayers, numKvHeads: kvHeads, headDim } = model.config;

/** Records each token's key norm and the attention it received (summed over queries), evicting nothing. */
const recorder = (spec: LayerSpec): TokenScorer => ({
  ...keyNormScorer(spec.headDim),
  name: 'recorder',
  columns: [{ name: 'keyNorm' }, { name: 'received' }],
  observation: (step) => ({ rows: step.queryPositions.length }),
  observe: (head, observation, table) => {
    const received = table.column(head, 'received');
    for (let j = 0; j < received.length; j++) received[j] += observation.sum[j];
  },
});

function spearman(a: number[], b: number[]): number {
  const rank = (x: number[]) => {
    const r = new Array<number>(x.length);
    x.map((v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]).forEach(([, i], k) => (r[i] = k));
    return r;
  };
  const [ra, rb] = [rank(a), rank(b)];
  const mean = (ra.length - 1) / 2;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < ra.length; i++) {
    ab += (ra[i] - mean) * (rb[i] - mean);
    aa += (ra[i] - mean) ** 2;
    bb += (rb[i] - mean) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

const quantiles = (x: number[], ps: number[]) => {
  const s = [...x].sort((p, q) => p - q);
  return ps.map((p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]);
};
const deg = (r: number) => ((r * 180) / Math.PI).toFixed(0);

console.log(`kvkit-tiny diagnostics: ${windows.length} windows of ${tokens} tokens from eval/test.txt\n`);
console.log('L2-norm premise: Spearman ρ(key norm, mean attention received); the paper expects ρ < 0');
console.log('(tokens 8 … n−64, so sinks and the recent window do not decide it); share of attention on token 0.');
const angles: { keys: number[]; values: number[] }[] = Array.from({ length: numLayers - 1 }, () => ({ keys: [], values: [] }));
for (const [w, window] of windows.entries()) {
  const cache = model.createCache(compressingLayer({ name: 'recorder', budget: 1, scorer: recorder, protection: { sinks: 0, recent: 0 } }));
  model.forward(window, cache, { logits: 'last' }).dispose();
  const layers = cache.layers as CompressingLayer[];
  const n = window.length;
  for (const layer of layers) {
    const cells: string[] = [];
    for (let h = 0; h < kvHeads; h++) {
      const norms = layer.table.column(h, 'keyNorm');
      const received = layer.table.column(h, 'received');
      const mean = Array.from(received, (x, j) => x / (n - j)); // per query that could see token j
      const middle = Array.from({ length: n - 72 }, (_, i) => i + 8);
      const rho = spearman(middle.map((j) => norms[j]), middle.map((j) => mean[j]));
      cells.push(`head ${h}: ρ ${rho >= 0 ? '+' : ''}${rho.toFixed(2)}, token 0 ${(mean[0] * 100).toFixed(1)}%`);
    }
    console.log(`  window ${w} layer ${layer.layerIndex}  ${cells.join('   ')}`);
  }
  for (let l = 0; l + 1 < numLayers; l++) {
    for (let h = 0; h < kvHeads; h++) {
      const [a, b] = [layers[l].store.read(h), layers[l + 1].store.read(h)];
      for (let t = 0; t < n; t++) {
        const row = (x: Float32Array) => x.subarray(t * headDim, (t + 1) * headDim);
        angles[l].keys.push(angleBetween(row(a.keys), row(b.keys)));
        angles[l].values.push(angleBetween(row(a.values), row(b.values)));
      }
    }
  }
  cache.dispose();
}

console.log('\nMiniCache premise: angle between the same token\'s K (and V) in adjacent layers, p5 / median / p95 in degrees');
console.log('(the paper merges deep layers whose states are nearly parallel; 90° is unrelated)');
angles.forEach((a, l) => {
  const [k5, k50, k95] = quantiles(a.keys, [0.05, 0.5, 0.95]).map(deg);
  const [v5, v50, v95] = quantiles(a.values, [0.05, 0.5, 0.95]).map(deg);
  console.log(`  layers ${l}–${l + 1}: keys ${k5} / ${k50} / ${k95}°   values ${v5} / ${v50} / ${v95}°`);
});

const vocabulary = Array.from({ length: model.tokenizer.vocabSize }, (_, id) => model.tokenizer.idToToken(id) ?? '');
const classes = tokenClassesFromVocabulary(vocabulary);
console.log(`\nFastGen premise: share of each head's prompt attention each policy recovers (window 0, threshold 0.95),`);
console.log(`with the tokenizer's ${classes.special.length} special and ${classes.punctuation.length} punctuation ids.`);
{
  const cache = model.createCache(fastGen({ specialTokenIds: classes.special, punctuationTokenIds: classes.punctuation }));
  model.forward(windows[0], cache, { logits: 'last' }).dispose();
  console.log(`  ${''.padEnd(16)}${FASTGEN_POLICIES.map((p) => p.padStart(12)).join('')}   chosen`);
  for (const layer of cache.layers as CompressingLayer[]) {
    const info = layer.describe() as { recovery: number[][]; headPolicies: string[] };
    info.recovery.forEach((r, h) => console.log(`  layer ${layer.layerIndex} head ${h}  ${r.map((x) => x.toFixed(3).padStart(12)).join('')}   ${info.headPolicies[h]}`));
  }
  cache.dispose();
}

if (process.env.PPL !== '0') {
  const prefill = tokens >> 1;
  const perplexity = (method: CacheLayerFactory) => {
    let nll = 0;
    let count = 0;
    for (const window of windows) {
      const cache = model.createCache(method);
      let logits = model.forward(window.subarray(0, prefill), cache, { logits: 'last' });
      for (let t = prefill; t < window.length; t++) {
        const row = logits.readFloat32Sync();
        logits.dispose();
        let max = -Infinity;
        for (const x of row) max = Math.max(max, x);
        let sum = 0;
        for (const x of row) sum += Math.exp(x - max);
        nll += max + Math.log(sum) - row[window[t]];
        count++;
        if (t + 1 < window.length) logits = model.forward(window.subarray(t, t + 1), cache, { logits: 'last' });
      }
      cache.dispose();
    }
    return Math.exp(nll / count);
  };
  /** The L2-norm layer with another ranking of the same per-token key norms. */
  const ranked = (name: string, score: (norm: number, token: number) => number): CacheLayerFactory =>
    compressingLayer({
      name,
      budget: 0.25,
      protection: { sinks: 0, recent: 0 },
      scorer: (spec) => {
        const base = keyNormScorer(spec.headDim);
        return { ...base, scores: (head, table, positions) => Float64Array.from(table.column(head, 'keyNorm'), (norm, i) => score(norm, positions[i])) };
      },
    });
  // A fixed pseudo-random score per position (the same for every run and head).
  const hash = (p: number) => (Math.sin(p * 12.9898 + 78.233) * 43758.5453) % 1;
  console.log(`\nL2-norm rule at budget 0.25, all layers compressed, no sinks or window (prefill ${prefill}, decode ${tokens - prefill}):`);
  for (const [label, method] of [
    ['dense', denseCache({ dtype: 'f16' })],
    ['lowest key norms kept (the paper)', l2norm({ budget: 0.25, skipLayers: 0 })],
    ['random tokens kept', ranked('random', (_, p) => Math.abs(hash(p)))],
    ['highest key norms kept (reversed)', ranked('highest-norm', (norm) => norm)],
    ['lowest norms + 4 sinks + half the budget recent', l2norm({ budget: 0.25, skipLayers: 0, sinks: 4, recent: 0.5 })],
  ] as const) {
    console.log(`  ${label.padEnd(48)} ppl ${perplexity(method).toFixed(2)}`);
  }
}
model.dispose();
