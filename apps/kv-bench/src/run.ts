import type { LlamaModel } from '@kvkit/llm';
import { type MethodMeasurement, measureMethod, prepareInputs, referenceFirst, toRecord } from './measure.js';
import type { MethodRun } from './methods.js';
import type { BenchRecord } from './record.js';
import type { BenchSettings } from './settings.js';

export { type BenchSettings, tokensPerMethod } from './settings.js';

export interface BenchInput {
  model: LlamaModel;
  text: string;
  /** Rows to run; the first dense row is the reference for KL and recall (one is required). */
  methods: MethodRun[];
  settings: BenchSettings;
  onProgress?: (label: string, tokens: number) => void;
}

/** Runs every method in this thread on the same windows, probes and prompts; the reference row first. */
export async function runBench({ model, text, methods, settings, onProgress }: BenchInput): Promise<BenchRecord[]> {
  const inputs = prepareInputs(model, text, settings);
  const ordered = referenceFirst(methods);
  let reference: Float32Array[][] | undefined;
  const measurements: MethodMeasurement[] = [];
  for (const [i, run] of ordered.entries()) {
    const result = await measureMethod(model, inputs, run, {
      isReference: i === 0,
      reference: async () => reference!,
      onTokens: (n) => onProgress?.(run.label, n),
    });
    if (i === 0) reference = result.logProbs;
    measurements.push(result.measurement);
  }
  return measurements.map((m) => toRecord(m, measurements[0].recall));
}
