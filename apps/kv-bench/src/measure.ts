import type { LlamaModel } from '@kvkit/llm';
import { createRng, InvalidConfigError } from '@kvkit/tensor-core';
import type { MethodRun } from './methods.js';
import { evaluatePasskey, makePasskeyPrompts, type PasskeyPrompt, type PasskeyResult } from './passkey.js';
import { evaluateRecall, type RecallProbe, type RecallResult, recallRetained } from './recall.js';
import type { BenchRecord } from './record.js';
import type { BenchSettings } from './settings.js';
import { evaluateText, makeWindows, type TextResult, type Window } from './text-eval.js';

/** What every row is measured on: the same windows, recall probes and passkey prompts. */
export interface BenchInputs {
  windows: Window[];
  recallProbes: RecallProbe[];
  prompts: PasskeyPrompt[];
}

/** Deterministic in (model tokenizer, text, settings): every worker derives the same inputs. */
export function prepareInputs(model: LlamaModel, text: string, s: BenchSettings): BenchInputs {
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
  return { windows, recallProbes, prompts };
}

/** One row's raw measurements (plain data: it crosses worker boundaries). */
export interface MethodMeasurement {
  label: string;
  method: string;
  params: MethodRun['params'];
  /** The store of a composed row (method+store). */
  store?: { name: string; params: MethodRun['params'] };
  isReference: boolean;
  text: Omit<TextResult, 'logProbs'>;
  recall: RecallResult;
  passkey: PasskeyResult;
}

export interface MeasureOptions {
  /** This row is the reference (the first dense row): its log-probabilities are kept and returned. */
  isReference: boolean;
  /** The reference's log-probabilities, for KL; awaited only when the text pass needs them. */
  reference?: () => Promise<Float32Array[][]>;
  onTokens?: (n: number) => void;
}

/**
 * Measures one row. The reference row runs its text pass first so others can start their KL
 * sooner; other rows run passkey and recall first and wait for the reference only at the end.
 */
export async function measureMethod(
  model: LlamaModel,
  inputs: BenchInputs,
  run: MethodRun,
  { isReference, reference, onTokens }: MeasureOptions,
): Promise<{ measurement: MethodMeasurement; logProbs?: Float32Array[][] }> {
  const recallOf = () => (inputs.recallProbes.length ? evaluateRecall(model, inputs.recallProbes, run.factory, onTokens) : Promise.resolve({ firstNll: NaN, repeatNll: NaN }));
  let text: TextResult;
  let recall: RecallResult;
  let passkey: PasskeyResult;
  if (isReference) {
    text = await evaluateText(model, inputs.windows, run.factory, { keepLogProbs: true, onTokens });
    recall = await recallOf();
    passkey = await evaluatePasskey(model, inputs.prompts, run.factory, onTokens);
  } else {
    passkey = await evaluatePasskey(model, inputs.prompts, run.factory, onTokens);
    recall = await recallOf();
    const ref = reference ? await reference() : undefined;
    text = await evaluateText(model, inputs.windows, run.factory, { reference: ref, onTokens });
  }
  const { logProbs, ...textResult } = text;
  return {
    measurement: {
      label: run.label,
      method: run.method,
      params: run.params,
      ...(run.store ? { store: { name: run.store.name, params: run.store.params } } : {}),
      isReference,
      text: textResult,
      recall,
      passkey,
    },
    logProbs: isReference ? logProbs : undefined,
  };
}

/** The reference row first (the first dense row): runBench needs it for KL and recall. */
export function referenceFirst<T extends { method: string }>(runs: readonly T[]): T[] {
  const i = runs.findIndex((r) => r.method === 'dense');
  if (i < 0) throw new InvalidConfigError('kv-bench needs a dense row (the reference for KL and recall)');
  return [runs[i], ...runs.slice(0, i), ...runs.slice(i + 1)];
}

/** A result row from its measurements and the reference row's recall. */
export function toRecord(m: MethodMeasurement, referenceRecall: RecallResult): BenchRecord {
  const t = m.text;
  const memory = t.memory;
  return {
    method: m.method,
    label: m.label,
    params: m.params,
    ...(m.store ? { store: m.store } : {}),
    ppl: Math.exp(t.nll / t.tokens),
    bpb: t.nll / Math.LN2 / t.bytes,
    kl: m.isReference ? 0 : (t.kl ?? NaN),
    recall: recallRetained(m.recall, referenceRecall),
    recallFirstNll: m.recall.firstNll,
    recallRepeatNll: m.recall.repeatNll,
    passkey: m.passkey.accuracy,
    passkeyByLength: m.passkey.byLength,
    passkeyByDepth: m.passkey.byDepth,
    kvBytes: memory.kvBytes,
    kvBytesF16: memory.kvBytesF16,
    compression: memory.kvBytesF16 / memory.kvBytes,
    kvParts: memory.parts,
    kvLayerBytes: memory.layerBytes,
    tokensPerSec: t.decodeTokensPerSec,
    prefillTokensPerSec: t.prefillTokensPerSec,
    evaluatedTokens: t.tokens,
  };
}
