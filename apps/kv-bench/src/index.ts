export { type BenchInput, runBench } from './run.js';
export { type BenchSettings, tokensPerMethod } from './settings.js';
export { type BenchInputs, type MethodMeasurement, measureMethod, prepareInputs, toRecord } from './measure.js';
export { BenchWorkerError, type ParallelBenchInput, runBenchParallel } from './parallel.js';
export { type BenchRecord } from './record.js';
export { type MethodRun, type ResolvedRow, type ResolvedStore, availableMethods, availableStores, describeMethods, parseMethodList, resolveMethodList, rowsThatCannotRunOn, takesStore } from './methods.js';
export { evaluateText, makeWindows, type Window, type TextResult } from './text-eval.js';
export { evaluateRecall, recallRetained, type RecallProbe, type RecallResult } from './recall.js';
export { evaluatePasskey, makePasskeyPrompts, type PasskeyPrompt, type PasskeyResult } from './passkey.js';
export { formatTable } from './table.js';
/** The dense baseline's descriptor now lives in tensor-core; re-exported for existing imports. */
export { denseMethod } from '@kvkit/tensor-core';
export { htmlReport } from './html-report.js';
