// The runtime side of the KV-cache contract's optional observeLayer hook: after each layer's attention
// the model reports the residual stream before and after attention and their cosine. Checked against
// the layer's own activations (onLayer) and a float64 o_proj computed here from the checkpoint.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CacheLayerFactory, DenseCacheLayer, type LayerObservation } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LayerActivations, type LlamaModel, loadModel, parseSafetensors, readFloat32 } from '../src/index.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';

const DIR = join(TORCH_REFERENCE, 'llama');

interface Observed {
  layerIndex: number;
  phase: 'prefill' | 'decode';
  positions: number[];
  hiddenIn: Float32Array;
  hiddenOut: Float32Array;
  cosine: Float32Array;
  shapes: (readonly number[])[];
}

/** A dense f32 cache whose layers copy every observation (the tensors are released after the call). */
function observingCache(log: Observed[]): CacheLayerFactory {
  return (spec) => {
    const layer = new DenseCacheLayer(spec, 'f32', 8) as DenseCacheLayer & { observeLayer(o: LayerObservation): void };
    layer.observeLayer = (o) =>
      log.push({
        layerIndex: spec.layerIndex,
        phase: o.phase,
        positions: Array.from(o.positions),
        hiddenIn: o.hiddenIn.readFloat32Sync(),
        hiddenOut: o.hiddenOut.readFloat32Sync(),
        cosine: o.cosine.readFloat32Sync(),
        shapes: [o.hiddenIn.shape, o.hiddenOut.shape, o.cosine.shape],
      });
    return layer;
  };
}

/** y = x · Wᵀ in float64; x: [n, in] row-major, W: [out, in]. */
function linear64(x: Float32Array, w: Float32Array, n: number, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(n * outDim);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < outDim; o++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[o * inDim + i];
      y[r * outDim + o] = s;
    }
  return y;
}

/** [qHeads, n, headDim] → [n, qHeads·headDim] (the layout o_proj reads). */
function mergeHeads(a: Float32Array, qHeads: number, n: number, headDim: number): Float32Array {
  const out = new Float32Array(n * qHeads * headDim);
  for (let h = 0; h < qHeads; h++)
    for (let t = 0; t < n; t++) for (let d = 0; d < headDim; d++) out[t * qHeads * headDim + h * headDim + d] = a[(h * n + t) * headDim + d];
  return out;
}

function cosine64(a: Float32Array, b: Float32Array, n: number, dim: number): Float64Array {
  const out = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < dim; i++) {
      const x = a[t * dim + i];
      const y = b[t * dim + i];
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    out[t] = aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
  }
  return out;
}

describe('observeLayer: what the runtime reports to cache layers', () => {
  let model: LlamaModel;
  let oProj: Float32Array[];
  beforeAll(async () => {
    model = await loadModel(DIR);
    const file = parseSafetensors(new Uint8Array(readFileSync(join(DIR, 'model.safetensors'))), 'model.safetensors');
    oProj = Array.from({ length: model.config.numLayers }, (_, l) => readFloat32(file, file.tensors.get(`model.layers.${l}.self_attn.o_proj.weight`)!));
  });
  afterAll(() => model.dispose());

  const randomIds = (n: number, rng: { int(n: number): number }) => Int32Array.from({ length: n }, () => rng.int(model.config.vocabSize));

  it('once per layer per pass: hiddenIn is the layer input, hiddenOut adds o_proj(attention), cosine per row (prefill and decode)', () =>
    withSeed((rng) => {
      const { hiddenSize: hidden, numHeads: qHeads, headDim, numLayers } = model.config;
      const log: Observed[] = [];
      const cache = model.createCache(observingCache(log));
      const passes = [randomIds(7, rng), randomIds(1, rng), randomIds(1, rng)];
      let position = 0;
      for (const [pass, ids] of passes.entries()) {
        const activations: { hidden: Float32Array; attention: Float32Array }[] = [];
        const onLayer = (e: LayerActivations) => activations.push({ hidden: e.hidden.readFloat32Sync(), attention: e.attention.readFloat32Sync() });
        const before = log.length;
        model.forward(ids, cache, { onLayer }).dispose();
        const observed = log.slice(before);
        expect(observed.map((o) => o.layerIndex)).toEqual(Array.from({ length: numLayers }, (_, l) => l));
        const n = ids.length;
        for (const [l, o] of observed.entries()) {
          const where = `pass ${pass} layer ${l}`;
          expect(o.phase, where).toBe(pass === 0 ? 'prefill' : 'decode');
          expect(o.positions, where).toEqual(Array.from({ length: n }, (_, i) => position + i));
          expect(o.shapes, where).toEqual([[n, hidden], [n, hidden], [n]]);
          assertClose(o.hiddenIn, activations[l].hidden, 0, `${where}: hiddenIn`);
          const projected = linear64(mergeHeads(activations[l].attention, qHeads, n, headDim), oProj[l], n, qHeads * headDim, hidden);
          const expectedOut = projected.map((v, i) => v + activations[l].hidden[i]);
          assertClose(o.hiddenOut, expectedOut, 1e-5, `${where}: hiddenOut`);
          assertClose(o.cosine, cosine64(o.hiddenIn, o.hiddenOut, n, hidden), 1e-5, `${where}: cosine`);
        }
        position += ids.length;
      }
      cache.dispose();
    }));

  it('a batched pass reports to each request its own rows, as a pass of that request alone does', () =>
    withSeed((rng) => {
      const [a, b] = [randomIds(5, rng), randomIds(3, rng)];
      const [logA, logB, alone] = [[], [], []] as Observed[][];
      const [cacheA, cacheB, cacheAlone] = [logA, logB, alone].map((log) => model.createCache(observingCache(log)));
      model.forwardBatch([{ ids: a, cache: cacheA }, { ids: b, cache: cacheB }]).dispose();
      model.forward(b, cacheAlone).dispose();
      expect(logA.map((o) => o.positions)).toEqual(Array.from({ length: model.config.numLayers }, () => [0, 1, 2, 3, 4]));
      expect(logB).toHaveLength(alone.length);
      for (const [l, o] of logB.entries()) {
        expect(o.positions).toEqual(alone[l].positions);
        assertClose(o.hiddenIn, alone[l].hiddenIn, 1e-5, `layer ${l}: hiddenIn`);
        assertClose(o.hiddenOut, alone[l].hiddenOut, 1e-5, `layer ${l}: hiddenOut`);
        assertClose(o.cosine, alone[l].cosine, 1e-5, `layer ${l}: cosine`);
      }
      for (const c of [cacheA, cacheB, cacheAlone]) c.dispose();
    }));
});
