import type { LlamaModel } from '@kvkit/llm';
import { type CacheMethod, denseF16Bytes, type Tensor } from '@kvkit/tensor-core';
import { klDivergence, logSoftmax, nll } from './log-probs.js';

/** A window of held-out text: the first `prefill` tokens go in as one prompt, the rest are decoded one by one. */
export interface Window {
  ids: Int32Array;
  prefill: number;
}

/**
 * `count` windows of `length` tokens spread evenly over `ids` (so they sample different documents),
 * each prefilling `prefillFraction` of itself. Fewer when the text is too short.
 */
export function makeWindows(ids: ArrayLike<number> & { subarray(a: number, b: number): Int32Array }, length: number, count: number, prefillFraction: number): Window[] {
  const fit = Math.min(count, Math.floor(ids.length / length));
  const prefill = Math.min(length - 1, Math.max(1, Math.round(length * prefillFraction)));
  const windows: Window[] = [];
  for (let i = 0; i < fit; i++) {
    const start = fit === 1 ? 0 : Math.floor((i * (ids.length - length)) / (fit - 1));
    windows.push({ ids: ids.subarray(start, start + length), prefill });
  }
  return windows;
}

export interface MemorySnapshot {
  /** Resident KV bytes at the end of the window that held the most. */
  kvBytes: number;
  /** What an f16 dense cache holds for the same tokens. */
  kvBytesF16: number;
  parts: Record<string, number>;
  layerBytes: number[];
}

export interface TextResult {
  /** Σ NLL (nats) over the decoded tokens. */
  nll: number;
  tokens: number;
  bytes: number;
  /** Mean KL(dense ‖ method) per decoded token, when a reference was given. */
  kl?: number;
  memory: MemorySnapshot;
  prefillTokensPerSec: number;
  decodeTokensPerSec: number;
  /** Per window, per decoded token: log-probabilities (kept for the reference run only). */
  logProbs?: Float32Array[][];
}

export async function logitsRow(logits: Tensor, row = 0): Promise<Float32Array> {
  const values = await logits.readFloat32();
  const vocab = logits.shape[logits.rank - 1];
  return values.subarray(row * vocab, (row + 1) * vocab);
}

/**
 * Teacher-forced evaluation: prefill each window's prompt part (compression at prefill happens
 * there), then feed the remaining tokens one at a time (compression at decode), scoring each
 * prediction. Only decoded predictions count: they are the ones made through the compressed cache.
 */
export async function evaluateText(
  model: LlamaModel,
  windows: readonly Window[],
  method: CacheMethod,
  options: { reference?: Float32Array[][]; keepLogProbs?: boolean; onTokens?: (n: number) => void } = {},
): Promise<TextResult> {
  let total = 0;
  let tokens = 0;
  let bytes = 0;
  let klSum = 0;
  let prefillMs = 0;
  let prefillTokens = 0;
  let decodeMs = 0;
  let decodeTokens = 0;
  let memory: MemorySnapshot = { kvBytes: 0, kvBytesF16: 0, parts: {}, layerBytes: [] };
  const logProbs: Float32Array[][] = [];
  const { numKvHeads, headDim } = model.config;
  const numLayers = model.config.attentionLayers.length; // the layers that hold K/V
  for (let w = 0; w < windows.length; w++) {
    const { ids, prefill } = windows[w];
    const cache = model.createCache(method);
    const kept: Float32Array[] = [];
    try {
      let start = performance.now();
      let logits = model.forward(ids.subarray(0, prefill), cache, { logits: 'last' });
      let row = await logitsRow(logits);
      logits.dispose();
      prefillMs += performance.now() - start;
      prefillTokens += prefill;
      options.onTokens?.(prefill);
      start = performance.now();
      for (let t = prefill; t < ids.length; t++) {
        const target = ids[t];
        total += nll(row, target);
        if (options.reference || options.keepLogProbs) {
          const lp = logSoftmax(row);
          if (options.keepLogProbs) kept.push(lp);
          if (options.reference) klSum += klDivergence(options.reference[w][t - prefill], lp);
        }
        tokens += 1;
        if (t + 1 < ids.length) {
          logits = model.forward(ids.subarray(t, t + 1), cache, { logits: 'last' });
          row = await logitsRow(logits);
          logits.dispose();
          decodeTokens += 1;
          options.onTokens?.(1);
        }
      }
      decodeMs += performance.now() - start;
      bytes += new TextEncoder().encode(model.tokenizer.decode(ids.subarray(prefill))).length;
      const report = cache.memory();
      if (report.bytes >= memory.kvBytes) {
        memory = {
          kvBytes: report.bytes,
          // A hybrid model's recurrent state (LFM2's convolutions), which no method compresses, counts on both sides.
          kvBytesF16: denseF16Bytes(ids.length, numKvHeads, headDim, numLayers, model.cacheSpec().valuesAreKeys) + (report.parts.recurrent ?? 0),
          parts: report.parts,
          layerBytes: report.layers.map((l) => l.bytes),
        };
      }
    } finally {
      cache.dispose();
    }
    if (options.keepLogProbs) logProbs.push(kept);
  }
  return {
    nll: total,
    tokens,
    bytes,
    kl: options.reference ? klSum / tokens : undefined,
    memory,
    prefillTokensPerSec: prefillTokens / (prefillMs / 1000),
    decodeTokensPerSec: decodeTokens / (decodeMs / 1000),
    logProbs: options.keepLogProbs ? logProbs : undefined,
  };
}
