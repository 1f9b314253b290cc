export { type BenchInput, type BenchSettings, runBench, tokensPerMethod } from './run.js';
export { type BenchRecord } from './record.js';
export { type MethodRun, availableMethods, denseMethod, describeMethods, parseMethodList } from './methods.js';
export { evaluateText, makeWindows, type Window, type TextResult } from './text-eval.js';
export { evaluateRecall, recallRetained, type RecallProbe, type RecallResult } from './recall.js';
export { evaluatePasskey, makePasskeyPrompts, type PasskeyPrompt, type PasskeyResult } from './passkey.js';
export { formatTable } from './table.js';
export { htmlReport } from './html-report.js';
