import type { LlamaModel } from '@kvkit/llm';
import { createRng, InvalidConfigError } from '@kvkit/tensor-core';
import type { MethodRun } from './methods.js';
import { evaluatePasskey, makePasskeyPrompts } from './passkey.js';
import { evaluateRecall, type RecallProbe, recallRetained } from './recall.js';
import type { BenchRecord } from './record.js';
import { evaluateText, makeWindows } from './text-eval.js';

export interface BenchSettings {
  /** Tokens per evaluation window (≤ the model's context). */
  windowTokens: number;
  windows: number;
  /** Share of each window prefilled as a prompt; the rest is decoded token by token. */
  prefillFraction: number;
  recallProbes: number;
  recallPassageTokens: number;
  recallFillerTokens: number;
  passkeyLengths: number[];
  passkeyDepths: number[];
  passkeyPerCell: number;
  seed: number;
}

export interface BenchInput {
  model: LlamaModel;
  text: string;
  /** Rows to run; a dense row is added first when missing (the reference for KL and recall). */
  methods: MethodRun[];
  settings: BenchSettings;
  onProgress?: (label: string, tokens: number) => void;
}

/** Tokens each method processes, for progress bars. */
export function tokensPerMethod(s: BenchSettings): number {
  return (
    s.windows * s.windowTokens +
    s.recallProbes * (2 * s.recallPassageTokens + s.recallFillerTokens) +
    s.passkeyLengths.length * s.passkeyDepths.length * s.passkeyPerCell * (s.passkeyLengths.reduce((a, b) => a + b, 0) / s.passkeyLengths.length)
  );
}

/** Runs every method on the same windows, probes and prompts; the dense row first. */
export async function runBench({ model, text, methods, settings: s, onProgress }: BenchInput): Promise<BenchRecord[]> {
  const ids = model.tokenizer.encode(text);
  // Windows from the first 80% of the text, recall probes from the rest, so they never overlap.
  const split = Math.floor(ids.length * 0.8);
  const windows = makeWindows(ids.subarray(0, split), s.windowTokens, s.windows, s.prefillFraction);
  if (windows.length === 0) {
    throw new InvalidConfigError(`the text has ${ids.length} tokens: not enough for one window of ${s.windowTokens} (give a longer --text or a smaller --window-tokens)`);
  }
  const rest = ids.subarray(split);
  const recallProbes: RecallProbe[] = [];
  const probeLength = s.recallPassageTokens + s.recallFillerTokens;
  for (let i = 0; i < s.recallProbes && (i + 1) * probeLength <= rest.length; i++) {
    const base = i * probeLength;
    recallProbes.push({ passage: rest.subarray(base, base + s.recallPassageTokens), filler: rest.subarray(base + s.recallPassageTokens, base + probeLength) });
  }
  const prompts = makePasskeyPrompts(model, text, s.passkeyLengths, s.passkeyDepths, s.passkeyPerCell, createRng(s.seed));

  const ordered = methods.some((m) => m.method === 'dense') ? [...methods].sort((a, b) => Number(b.method === 'dense') - Number(a.method === 'dense')) : methods;
  if (ordered[0]?.method !== 'dense') throw new InvalidConfigError('runBench needs a dense row (the reference for KL and recall)');
  const records: BenchRecord[] = [];
  let reference: Float32Array[][] | undefined;
  let denseRecall: { firstNll: number; repeatNll: number } | undefined;
  for (const run of ordered) {
    const progress = (n: number) => onProgress?.(run.label, n);
    const isReference = reference === undefined;
    const textResult = await evaluateText(model, windows, run.factory, { reference, keepLogProbs: isReference, onTokens: progress });
    if (isReference) reference = textResult.logProbs;
    const recall = recallProbes.length ? await evaluateRecall(model, recallProbes, run.factory, progress) : { firstNll: NaN, repeatNll: NaN };
    if (isReference) denseRecall = recall;
    const passkey = await evaluatePasskey(model, prompts, run.factory, progress);
    const m = textResult.memory;
    records.push({
      method: run.method,
      label: run.label,
      params: run.params,
      ppl: Math.exp(textResult.nll / textResult.tokens),
      bpb: textResult.nll / Math.LN2 / textResult.bytes,
      kl: isReference ? 0 : (textResult.kl ?? NaN),
      recall: denseRecall ? recallRetained(recall, denseRecall) : NaN,
      recallFirstNll: recall.firstNll,
      recallRepeatNll: recall.repeatNll,
      passkey: passkey.accuracy,
      passkeyByLength: passkey.byLength,
      passkeyByDepth: passkey.byDepth,
      kvBytes: m.kvBytes,
      kvBytesF16: m.kvBytesF16,
      compression: m.kvBytesF16 / m.kvBytes,
      kvParts: m.parts,
      kvLayerBytes: m.layerBytes,
      tokensPerSec: textResult.decodeTokensPerSec,
      prefillTokensPerSec: textResult.prefillTokensPerSec,
      evaluatedTokens: textResult.tokens,
    });
  }
  return records;
}
