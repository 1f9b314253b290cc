import { join } from 'node:path';
import { PagedCacheLayer } from '@kvkit/attention-kernels';
import { denseCache, gather, rope, ropeInverseFrequencies, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LayerActivations, type LlamaModel, loadModel } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { preRopeDenseCache, type Recorded, recordingCache } from './helpers/cache-layers.js';
import { readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';

const dir = (name: string): string => join(TORCH_REFERENCE, name);

describe('forward', () => {
  let llama: LlamaModel;
  let mistral: LlamaModel;
  let mqa: LlamaModel;
  beforeAll(async () => {
    llama = await loadModel(dir('llama'));
    mistral = await loadModel(dir('mistral-sliding'));
    mqa = await loadModel(dir('llama-mqa-bias'));
  });
  afterAll(() => {
    for (const m of [llama, mistral, mqa]) m.dispose();
  });

  const randomIds = (model: LlamaModel, n: number, rng: { int(n: number): number }): Int32Array =>
    Int32Array.from({ length: n }, () => rng.int(model.config.vocabSize));

  it('defaults to the paged cache on the CPU, with the dense cache’s logits (prefill and decode, sliding window too)', () =>
    withSeed((rng) => {
      for (const model of [llama, mistral]) {
        const paged = model.createCache();
        const dense = model.createCache(denseCache({ dtype: 'f32' }));
        expect(paged.layers.every((l) => l instanceof PagedCacheLayer)).toBe(true);
        const prompt = randomIds(model, 9, rng);
        assertClose(model.forward(prompt, paged).readFloat32Sync(), model.forward(prompt, dense).readFloat32Sync(), 1e-5, 'prefill');
        for (let step = 0; step < 3; step++) {
          const next = randomIds(model, 1, rng);
          assertClose(model.forward(next, paged).readFloat32Sync(), model.forward(next, dense).readFloat32Sync(), 1e-5, `decode ${step}`);
        }
        paged.dispose();
        dense.dispose();
      }
    }));

  it('defaults to a cache in the model dtype, and describes itself to cache factories', () => {
    const cache = llama.createCache();
    const spec = llama.cacheSpec();
    expect(spec).toMatchObject({ numLayers: 2, qHeads: 4, kvHeads: 2, headDim: 8, maxPositions: 64 });
    expect(spec.rope.layout).toBe('half');
    expect(Array.from(spec.rope.invFreq)).toEqual(Array.from(Float32Array.from([1, 0.1, 0.01, 0.001])));
    expect(mistral.cacheSpec().slidingWindow).toBe(4);
    expect(cache.layers).toHaveLength(2);
    expect((cache.layers[0] as PagedCacheLayer).pool.dtype).toBe('f32');
    cache.dispose();
  });

  it("gives each layer's cache its own rope (SmolLM3's NoPE layer: zero frequencies; Gemma 3's sliding layer: its base): a pre-RoPE cache rotates right, and the logits hold", async () => {
    for (const [name, layerFrequencies] of [
      ['smollm3-nope', (spec: ReturnType<LlamaModel['cacheSpec']>) => [Array.from(spec.rope.invFreq), [0, 0, 0, 0]]],
      ['gemma3-sliding', (spec: ReturnType<LlamaModel['cacheSpec']>) => [Array.from(ropeInverseFrequencies(16, 100)), Array.from(spec.rope.invFreq)]],
    ] as const) {
      const fixture = dir(name);
      const ref = readReference(fixture);
      const model = await loadModel(fixture);
      const spec = model.cacheSpec();
      expect(spec.layerRopes?.map((r) => Array.from(r.invFreq)), name).toEqual(layerFrequencies(spec));
      expect(spec.slidingWindow, name).toBeUndefined(); // Gemma 3's window is per layer: it reaches the layers as they attend
      const cache = model.createCache(preRopeDenseCache());
      const ids = Int32Array.from(ref.ids);
      const prefill = model.forward(ids.subarray(0, 7), cache);
      assertClose(prefill.readFloat32Sync(), rows(ref.logits, 0, 7), 1e-5, `${name} pre-rope prefill`);
      for (let t = 7; t < ids.length; t++) {
        const step = model.forward(ids.subarray(t, t + 1), cache);
        assertClose(step.readFloat32Sync(), rows(ref.logits, t, t + 1), 1e-5, `${name} pre-rope decode ${t}`);
        step.dispose();
      }
      prefill.dispose();
      cache.dispose();
      model.dispose();
    }
  });

  it('serves YaRN and LongRoPE to a pre-RoPE cache within the original context, and refuses a LongRoPE pass beyond it before writing', async () => {
    for (const [name, within] of [['smollm3-yarn', 12], ['phi4-longrope', 8]] as const) {
      const fixture = dir(name);
      const ref = readReference(fixture);
      const model = await loadModel(fixture);
      // Partial rotary: the spec's rope has one frequency per rotated pair (Phi-4-mini style: 12 of 16 channels).
      expect(model.cacheSpec().rope.invFreq.length, name).toBe(model.config.rotaryDim / 2);
      const cache = model.createCache(preRopeDenseCache());
      const ids = Int32Array.from(ref.ids);
      const prefill = model.forward(ids.subarray(0, 7), cache);
      assertClose(prefill.readFloat32Sync(), rows(ref.logits, 0, 7), 1e-5, `${name} pre-rope prefill`);
      prefill.dispose();
      for (let t = 7; t < within; t++) {
        const step = model.forward(ids.subarray(t, t + 1), cache);
        assertClose(step.readFloat32Sync(), rows(ref.logits, t, t + 1), 1e-5, `${name} pre-rope decode ${t}`);
        step.dispose();
      }
      if (within < ids.length) {
        expectKvkitError(() => model.forward(ids.subarray(within, within + 1), cache), 'UNSUPPORTED_MODEL', /reaches 9 tokens, beyond the original context of 8 where LongRoPE/);
        expect(cache.layers.map((layer) => layer.length)).toEqual([within, within]);
      }
      cache.dispose();
      model.dispose();
    }
  });

  it('refuses a pre-RoPE cache for a dynamic NTK pass beyond the original context before writing, and serves it within', async () => {
    const fixture = dir('llama-dynamic-ntk');
    const ids = Int32Array.from(readReference(fixture).ids);
    // max_position_embeddings 4: a pass within it rotates plainly (a pre-RoPE cache follows); beyond it, not.
    const model = await loadModel(fixture);
    const cache = model.createCache(preRopeDenseCache());
    model.forward(ids.subarray(0, 4), cache).dispose();
    expectKvkitError(() => model.forward(ids.subarray(4, 5), cache), 'UNSUPPORTED_MODEL', /reaches 5 tokens, beyond the original context of 4 where dynamic NTK rotates with a base grown/);
    expect(cache.layers.map((layer) => layer.length)).toEqual([4, 4]);
    cache.dispose();
    model.dispose();
  });

  it('passes un-rotated keys to a pre-RoPE cache layer and gets the same logits', () => {
    const ref = readReference(dir('llama'));
    const ids = Int32Array.from(ref.ids);
    const cache = llama.createCache(preRopeDenseCache());
    const prefill = llama.forward(ids.subarray(0, 7), cache);
    assertClose(prefill.readFloat32Sync(), rows(ref.logits, 0, 7), 1e-5, 'pre-rope prefill');
    for (let t = 7; t < ids.length; t++) {
      const step = llama.forward(ids.subarray(t, t + 1), cache);
      assertClose(step.readFloat32Sync(), rows(ref.logits, t, t + 1), 1e-5, `pre-rope decode ${t}`);
      step.dispose();
    }
    prefill.dispose();
    cache.dispose();
  });

  it('gives the same logits for a prompt prefilled in chunks, and "last" is the last row of "all"', () =>
    withSeed((rng) => {
      const ids = randomIds(llama, 20, rng);
      const whole = llama.createCache();
      const all = llama.forward(ids, whole, { logits: 'all' }).readFloat32Sync();
      const chunked = llama.createCache();
      llama.forward(ids.subarray(0, 6), chunked).dispose();
      llama.forward(ids.subarray(6, 13), chunked).dispose();
      const last = llama.forward(ids.subarray(13), chunked, { logits: 'last' });
      expect(last.shape).toEqual([1, 96]);
      assertClose(last.readFloat32Sync(), all.subarray(19 * 96), 1e-6, 'chunked prefill');
      expect(llama.nextPosition(chunked)).toBe(20);
      whole.dispose();
      chunked.dispose();
    }));

  it('reports every layer’s activations, with keys before and after RoPE', () =>
    withSeed((rng) => {
      const ids = randomIds(llama, 5, rng);
      const events: { layerIndex: number; shapes: number[][]; hidden: Float32Array; key: Float32Array; rotated: Float32Array }[] = [];
      const cache = llama.createCache();
      const positions = Int32Array.from([3, 4, 5, 6, 7]);
      llama
        .forward(ids, cache, {
          positions,
          onLayer: (e: LayerActivations) => {
            expect(Array.from(e.positions)).toEqual(Array.from(positions));
            const pos = tensor(positions, [5], { dtype: 'i32' });
            const inv = tensor(llama.cacheSpec().rope.invFreq, [4], { dtype: 'f32' });
            const rotated = rope(e.keyPreRope, pos, inv, 'half');
            events.push({
              layerIndex: e.layerIndex,
              shapes: [e.hidden, e.q, e.keyPreRope, e.key, e.value, e.attention].map((t) => [...t.shape]),
              hidden: e.hidden.readFloat32Sync().slice(),
              key: e.key.readFloat32Sync().slice(),
              rotated: rotated.readFloat32Sync(),
            });
            rotated.dispose();
            pos.dispose();
            inv.dispose();
          },
        })
        .dispose();
      expect(events.map((e) => e.layerIndex)).toEqual([0, 1]);
      for (const e of events) {
        expect(e.shapes).toEqual([[5, 32], [4, 5, 8], [2, 5, 8], [2, 5, 8], [2, 5, 8], [4, 5, 8]]);
        assertClose(e.key, e.rotated, 1e-7, `layer ${e.layerIndex} key = rope(keyPreRope)`);
      }
      // The first layer's input is the embedding of the ids.
      const embed = (llama as unknown as { weights: { embed: Parameters<typeof gather>[0] } }).weights.embed;
      const idx = tensor(ids, [5], { dtype: 'i32' });
      const rowsOfEmbedding = gather(embed, idx, 0);
      assertClose(events[0].hidden, rowsOfEmbedding.readFloat32Sync(), 0, 'layer 0 input');
      rowsOfEmbedding.dispose();
      idx.dispose();
      // Explicit positions move the cache's next position.
      expect(llama.nextPosition(cache)).toBe(8);
      cache.dispose();
    }));

  it('appends [kvHeads, n, headDim] K/V (never repeated per query head) and asks for the sliding window', () =>
    withSeed((rng) => {
      const log: Recorded[] = [];
      const cache = mqa.createCache(recordingCache(log));
      mqa.forward(randomIds(mqa, 6, rng), cache).dispose();
      mqa.forward(randomIds(mqa, 1, rng), cache).dispose();
      expect(log).toHaveLength(2);
      for (const layer of log) {
        expect(layer.appended.map((a) => a.kShape)).toEqual([[1, 6, 8], [1, 1, 8]]);
        expect(layer.appended.map((a) => a.step.phase)).toEqual(['prefill', 'decode']);
        expect(Array.from(layer.appended[1].step.positions)).toEqual([6]);
        expect(layer.attended.map((a) => a.qShape)).toEqual([[4, 6, 8], [4, 1, 8]]);
        expect(layer.attended[0].options.window).toBeUndefined();
      }
      cache.dispose();

      const windowLog: Recorded[] = [];
      const windowed = mistral.createCache(recordingCache(windowLog));
      mistral.forward(randomIds(mistral, 3, rng), windowed).dispose();
      expect(windowLog.every((l) => l.attended.every((a) => a.options.window === 4))).toBe(true);
      windowed.dispose();
    }));

  it('decodes a batch of requests in one pass with the same logits as one at a time', () =>
    withSeed((rng) => {
      const prompts = [randomIds(llama, 5, rng), randomIds(llama, 9, rng), randomIds(llama, 2, rng)];
      const next = prompts.map(() => randomIds(llama, 1, rng));
      const single = prompts.map((p, i) => {
        const cache = llama.createCache();
        llama.forward(p, cache).dispose();
        const logits = llama.forward(next[i], cache, { logits: 'last' });
        const values = logits.readFloat32Sync();
        logits.dispose();
        cache.dispose();
        return values;
      });
      const caches = prompts.map((p) => {
        const cache = llama.createCache();
        llama.forward(p, cache).dispose();
        return cache;
      });
      const batched = llama.forwardBatch(
        caches.map((cache, i) => ({ ids: next[i], cache })),
        { logits: 'last' },
      );
      expect(batched.shape).toEqual([3, 96]);
      const values = batched.readFloat32Sync();
      single.forEach((s, i) => assertClose(values.subarray(i * 96, (i + 1) * 96), s, 1e-6, `request ${i}`));
      expect(caches.map((c) => llama.nextPosition(c))).toEqual([6, 10, 3]);
      // Prefill of several requests in one pass (mixed lengths) matches too.
      const fresh = prompts.map(() => llama.createCache());
      const all = llama.forwardBatch(prompts.map((ids, i) => ({ ids, cache: fresh[i] })), { logits: 'all' });
      expect(all.shape).toEqual([16, 96]);
      batched.dispose();
      all.dispose();
      for (const c of [...caches, ...fresh]) c.dispose();
    }));

  it('refuses bad input before touching the cache', () => {
    const cache = llama.createCache();
    llama.forward(Int32Array.of(1, 2, 3), cache).dispose();
    expectKvkitError(() => llama.forward(Int32Array.of(5, 96), cache), 'INDEX_OUT_OF_RANGE', /token id 96 at index 1 is outside the vocabulary \[0, 96\)/);
    expectKvkitError(() => llama.forward(Int32Array.of(-1), cache), 'INDEX_OUT_OF_RANGE');
    expectKvkitError(() => llama.forward(new Int32Array(0), cache), 'INVALID_CONFIG', /non-empty/);
    expectKvkitError(() => llama.forward(Int32Array.from({ length: 62 }, () => 1), cache), 'INDEX_OUT_OF_RANGE', /position 64 is beyond the model's context of 64 tokens/);
    expectKvkitError(() => llama.forward(Int32Array.of(1), cache, { positions: Int32Array.of(1, 2) }), 'SHAPE_MISMATCH');
    expectKvkitError(() => llama.forward(Int32Array.of(1), mistral.createCache()), 'SHAPE_MISMATCH', /does not fit this model/);
    expectKvkitError(() => llama.forwardBatch([{ ids: Int32Array.of(1), cache }, { ids: Int32Array.of(2), cache }]), 'INVALID_CONFIG', /twice/);
    expect(cache.layers.map((l) => l.length)).toEqual([3, 3]);
    expect(llama.nextPosition(cache)).toBe(3);
    // Past the context only when asked for.
    const long = llama.forward(Int32Array.from({ length: 62 }, () => 1), cache, { allowBeyondContext: true, logits: 'last' });
    expect(Number.isFinite(long.readFloat32Sync()[0])).toBe(true);
    long.dispose();
    cache.dispose();
  });

  it('computes in f16 when asked, returning f32 logits', async () => {
    const model = await loadModel(dir('llama'), { dtype: 'f16' });
    const cache = model.createCache();
    expect((cache.layers[0] as PagedCacheLayer).pool.dtype).toBe('f16');
    const logits = model.forward(Int32Array.of(1, 2, 3), cache);
    expect(logits.dtype).toBe('f32');
    expect(model.weightBytes).toBe(llama.weightBytes / 2);
    logits.dispose();
    cache.dispose();
    model.dispose();
    expectKvkitError(() => model.createCache(), 'DISPOSED');
  });

  it('works with the tensor-core dense f16 cache too (f32 compute)', () => {
    const ref = readReference(dir('llama'));
    const cache = llama.createCache(denseCache({ dtype: 'f16' }));
    const logits = llama.forward(Int32Array.from(ref.ids), cache);
    assertClose(logits.readFloat32Sync(), rows(ref.logits, 0, ref.ids.length), 1e-2, 'f16 cache');
    logits.dispose();
    cache.dispose();
  });
});
