// SqueezeAttention on a real forward pass of @kvkit/llm (the project's trained models/kvkit-tiny): the
// model calls the KV-cache contract's observeLayer hook after each layer's attention, and the layer
// budgets follow the cosines it reports.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel } from '@kvkit/llm';
import type { LayerObservation } from '@kvkit/tensor-core';
import { assertClose } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type CompressingLayer, squeezeAllocator, squeezeAttention } from '../src/index.js';

const KVKIT_TINY = fileURLToPath(new URL('../../../models/kvkit-tiny/', import.meta.url));
const present = existsSync(`${KVKIT_TINY}model.safetensors`);

/** Per-row cosine of two [n, width] host matrices, in float64. */
function rowCosines(a: Float32Array, b: Float32Array, n: number, width: number): Float64Array {
  return Float64Array.from({ length: n }, (_, r) => {
    let [dot, na, nb] = [0, 0, 0];
    for (let c = r * width; c < (r + 1) * width; c++) {
      dot += a[c] * b[c];
      na += a[c] * a[c];
      nb += b[c] * b[c];
    }
    return dot / Math.sqrt(na * nb);
  });
}

describe('SqueezeAttention inside @kvkit/llm', () => {
  it.runIf(present)('gets each layer’s hidden-state cosine from the model and allocates the layer budgets from it', async () => {
    const model = await loadModel(KVKIT_TINY);
    const { numLayers, hiddenSize } = model.config;
    const cache = model.createCache(squeezeAttention({ budget: 0.25, sinks: 2, recent: 4, squeeze: 0.5 }));
    const ids = model.tokenizer.encode('Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about a little.');
    const n = ids.length;
    const means: number[] = [];
    const inputs: Float32Array[] = [];
    cache.layers.forEach((layer, l) => {
      const observe = layer.observeLayer!.bind(layer);
      layer.observeLayer = (o: LayerObservation) => {
        expect(o.phase).toBe('prefill');
        expect([...o.positions]).toEqual(Array.from({ length: n }, (_, i) => i));
        const before = o.hiddenIn.readFloat32Sync();
        expect([...before]).toEqual([...inputs[l]]); // the layer's input, as onLayer reports it
        const expected = rowCosines(before, o.hiddenOut.readFloat32Sync(), n, hiddenSize);
        assertClose(o.cosine.readFloat32Sync(), expected, 1e-5, `layer ${l} cosines`);
        means[l] = expected.reduce((s, c) => s + c, 0) / n;
        observe(o);
      };
    });
    model.forward(ids, cache, { onLayer: (e) => inputs.push(Float32Array.from(e.hidden.readFloat32Sync())) }).dispose();
    expect(means.length).toBe(numLayers);
    // The same allocator on the float64 cosines gives the weights the layers got.
    const { weights } = squeezeAllocator({ squeeze: 0.5 }).allocate(
      means.map((hiddenCosine, layerIndex) => ({ layerIndex, scores: [], hiddenCosine })),
      { numLayers, kvHeads: model.config.numKvHeads, scoredBudget: 1 },
    );
    const allocations = cache.layers.map((l) => (l as CompressingLayer).allocation());
    for (const a of allocations) expect(a.source).not.toContain('no hidden states');
    allocations.forEach((a, l) => expect(a.weight).toBeCloseTo(weights[l], 5));
    expect(new Set(allocations.map((a) => a.weight)).size).toBeGreaterThan(1);
    cache.dispose();
    model.dispose();
  });
});
