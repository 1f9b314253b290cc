import { denseCache } from '@kvkit/tensor-core';
import { assertClose } from '@kvkit/tensor-core/testing';
import { expect } from 'vitest';
import { type LlamaModel, loadModel } from '../../src/index.js';
import { readReference, rows } from './fixtures.js';

/**
 * A hybrid fixture's prompt run through a fresh cache: the cache has `cacheLayers` layers, each
 * holding the prompt, and beside them `recurrentBytes` of recurrent state (the part "recurrent"),
 * which the report's total includes.
 */
export async function expectStateAfterPrompt(dir: string, cacheLayers: number, recurrentBytes: number): Promise<void> {
  const ref = readReference(dir);
  const model = await loadModel(dir, { dtype: 'f32' });
  const cache = model.createCache(denseCache({ dtype: 'f32' }));
  try {
    expect(cache.layers).toHaveLength(cacheLayers);
    model.forward(Int32Array.from(ref.ids).subarray(0, ref.prompt_tokens), cache).dispose();
    const report = cache.memory();
    expect(report.parts.recurrent).toBe(recurrentBytes);
    expect(report.bytes).toBe(report.layers.reduce((sum, layer) => sum + layer.bytes, 0) + recurrentBytes);
    expect(cache.layers.every((layer) => layer.length === ref.prompt_tokens)).toBe(true);
  } finally {
    cache.dispose();
    model.dispose();
  }
}

/**
 * A hybrid fixture's prompt fed in `chunks` (token counts), then one more token, each pass's
 * logits against the one-pass reference: the recurrent state must carry over between passes.
 */
export async function expectChunkedPrefill(dir: string, chunks: readonly number[]): Promise<void> {
  const ref = readReference(dir);
  const ids = Int32Array.from(ref.ids);
  const model = await loadModel(dir, { dtype: 'f32' });
  const cache = model.createCache(denseCache({ dtype: 'f32' }));
  try {
    let start = 0;
    for (const n of [...chunks, 1]) {
      const logits = model.forward(ids.subarray(start, start + n), cache);
      assertClose(logits.readFloat32Sync(), rows(ref.logits, start, start + n), 1e-5, `${n} token(s) from ${start}`);
      logits.dispose();
      start += n;
    }
  } finally {
    cache.dispose();
    model.dispose();
  }
}

/** Each request's last logits after each of its passes, run alone through a cache of its own. */
function soloLogits(model: LlamaModel, passes: readonly Int32Array[]): Float32Array[] {
  const cache = model.createCache(denseCache({ dtype: 'f32' }));
  try {
    return passes.map((t) => {
      const logits = model.forward(t, cache, { logits: 'last' });
      const values = logits.readFloat32Sync();
      logits.dispose();
      return values;
    });
  } finally {
    cache.dispose();
  }
}

/**
 * Two requests of a hybrid fixture (a 5-token prompt and a 7-token one, then two decode steps
 * each) in one batched pass per step give each the logits it gets alone: the state is per cache.
 */
export async function expectBatchMatchesSolo(dir: string): Promise<void> {
  const ids = Int32Array.from(readReference(dir).ids);
  const model = await loadModel(dir, { dtype: 'f32' });
  const a = [ids.subarray(0, 5), ids.subarray(5, 6), ids.subarray(6, 7)];
  const b = [ids.subarray(3, 10), ids.subarray(1, 2), ids.subarray(2, 3)];
  const [aSolo, bSolo] = [soloLogits(model, a), soloLogits(model, b)];
  const caches = [model.createCache(denseCache({ dtype: 'f32' })), model.createCache(denseCache({ dtype: 'f32' }))];
  try {
    for (let step = 0; step < 3; step++) {
      const logits = model.forwardBatch([{ ids: a[step], cache: caches[0] }, { ids: b[step], cache: caches[1] }], { logits: 'last' });
      const values = logits.readFloat32Sync();
      logits.dispose();
      const vocab = model.config.vocabSize;
      assertClose(values.subarray(0, vocab), aSolo[step], 1e-6, `request a, step ${step}`);
      assertClose(values.subarray(vocab), bSolo[step], 1e-6, `request b, step ${step}`);
    }
  } finally {
    for (const cache of caches) cache.dispose();
    model.dispose();
  }
}
