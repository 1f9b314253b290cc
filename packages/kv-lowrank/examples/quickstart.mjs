// A tour of @kvkit/kv-lowrank on synthetic activations (no model needed): run `npm run build` first,
// then `node examples/quickstart.mjs`.
import {
  attention,
  cpuBackend,
  createCache,
  createRng,
  denseCache,
  matrix,
  rope,
  ropeInverseFrequencies,
  tensor,
} from '@kvkit/tensor-core';
import {
  KVCalibrationSet,
  allocateRanksByEnergy,
  capturedEnergy,
  cskv,
  decodeProjections,
  eigenAttention,
  encodeProjections,
  fitCskv,
  fitEigenAttention,
  fitPalu,
  palu,
} from '@kvkit/kv-lowrank';

const backend = cpuBackend();
const rng = createRng(1);
const spec = { numLayers: 2, qHeads: 8, kvHeads: 4, headDim: 32, maxPositions: 4096, backend, rope: { invFreq: ropeInverseFrequencies(32, 10000), layout: 'half' } };
const invFreq = tensor(spec.rope.invFreq, [16], { backend });

// A toy attention block: hidden states with a decaying spectrum (like real activations) through
// random projection weights W_k, W_v (HF layout [kvHeads·headDim, hidden]).
const hidden = 96;
const weight = () => matrix(128, hidden, Array.from({ length: 128 * hidden }, () => rng.normal() / Math.sqrt(hidden)));
const layers = Array.from({ length: spec.numLayers }, () => ({ k: weight(), v: weight() }));
const hiddenStates = (n) => Float32Array.from({ length: n * hidden }, (_, i) => rng.normal() * Math.exp(-(i % hidden) / 12));
/** x·Wᵀ for hidden states [n, hidden] → heads-first [kvHeads, n, headDim]. */
function project(w, h, n) {
  const out = new Float32Array(128 * n);
  for (let r = 0; r < 128; r++) {
    for (let t = 0; t < n; t++) {
      let s = 0;
      for (let c = 0; c < hidden; c++) s += w.data[r * hidden + c] * h[t * hidden + c];
      out[(Math.floor(r / 32) * n + t) * 32 + (r % 32)] = s;
    }
  }
  return tensor(out, [4, n, 32], { backend });
}
const positions = (start, n) => Int32Array.from({ length: n }, (_, i) => start + i);
const rotate = (k, pos) => rope(k, tensor(pos, [pos.length], { dtype: 'i32', backend }), invFreq);

// 1. Calibration: collect per-layer K/V (what `model.forward(ids, cache, { onLayer: (e) => set.add(e) })` does with @kvkit/llm).
const set = new KVCalibrationSet({ ...spec, maxTokens: 512 });
layers.forEach((w, layer) => {
  const h = hiddenStates(512);
  const keyPreRope = project(w.k, h, 512);
  set.add({ layerIndex: layer, keyPreRope, key: rotate(keyPreRope, positions(0, 512)), value: project(w.v, h, 512) });
  // Palu factors the projection weights themselves.
  set.setWeights(layer, w);
});

// 2. Fit once, save, load.
const eigenBases = fitEigenAttention(set);
console.log('energy kept by 16 of 32 directions (layer 0, head 0 keys):', capturedEnergy(eigenBases.key.layers[0][0], 16).toFixed(4));
const { safetensors, sidecar } = encodeProjections(eigenBases);
const { projections } = decodeProjections(safetensors, sidecar);
console.log(`saved bases: ${safetensors.length} bytes of safetensors + a JSON sidecar`);

// 3. Caches at half the feature dimension; compare one decode step with the dense cache.
const h = hiddenStates(200);
const k = project(layers[0].k, h, 200);
const v = project(layers[0].v, h, 200);
const q = tensor(Float32Array.from({ length: 8 * 32 }, () => rng.normal()), [8, 1, 32], { backend });
const methods = {
  dense: denseCache(),
  'eigen 50%': eigenAttention({ projections, ratio: 0.5 }),
  'eigen 50% (energy-allocated)': eigenAttention({ projections, ranks: allocateRanksByEnergy(projections, { ratio: 0.5 }) }),
  'palu 50% + 4-bit': palu({ projections: fitPalu(set), ratio: 0.5, bits: 4 }),
  'cskv 50% + window 32': cskv({ projections: fitCskv(set), ratio: 0.5, window: 32 }),
};
const reference = attention(q, rotate(k, positions(0, 200)), v, { queryPositions: tensor(positions(199, 1), [1], { dtype: 'i32', backend }) }).output.readFloat32Sync();
for (const [name, method] of Object.entries(methods)) {
  const cache = createCache(spec, method);
  const layer = cache.layers[0];
  layer.append(layer.keyInput === 'pre-rope' ? k : rotate(k, positions(0, 200)), v, { positions: positions(0, 200), phase: 'prefill' });
  const out = layer.attend(q, { positions: positions(199, 1) }).output.readFloat32Sync();
  let err = 0;
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    err += (out[i] - reference[i]) ** 2;
    norm += reference[i] ** 2;
  }
  const { bytes, parts } = layer.memory();
  console.log(`${name.padEnd(30)} relative error ${Math.sqrt(err / norm).toFixed(4)}  ${bytes} bytes ${JSON.stringify(parts)}`);
  cache.dispose();
}
