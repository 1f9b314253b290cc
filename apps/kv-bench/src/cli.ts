import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModel } from '@kvkit/llm';
import { InvalidConfigError, KvkitError, openBackend } from '@kvkit/tensor-core';
import { htmlReport } from './html-report.js';
import { calibrationContexts, collectCalibration, packagesNeedingCalibration } from './calibration.js';
import { availableMethods, availableStores, describeMethods, parseMethodList, resolveMethodList, rowsThatCannotRunOn } from './methods.js';
import { BenchWorkerError, runBenchParallel } from './parallel.js';
import { Progress } from './progress.js';
import { type BenchSettings, runBench, tokensPerMethod } from './run.js';
import { formatTable } from './table.js';
import { withTokenClasses } from './token-classes.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..');
const DEFAULT_MODEL = resolve(repoRoot, 'models', 'kvkit-tiny');
/** A handful of rows; the ones whose package is not installed are dropped with a note. */
const DEFAULT_METHODS = ['dense', 'kivi:bits=4', 'kivi:bits=2', 'streaming:budget=0.25', 'h2o:budget=0.25', 'snapkv:budget=0.25'];

const USAGE = `kv-bench — what KV-cache compression costs in quality and saves in memory, on a real model

usage: kv-bench [--model DIR] [--backend cpu|webgpu|cuda] [--methods LIST] [--text FILE]
                [--json FILE] [--html FILE] [--list] [--windows N] [--window-tokens N]
                [--passkey-lengths 256,512,...] [--passkey-per-cell N] [--seed N] [--workers N]
                [--calibration FILE] [--half-weights]

  --model DIR       a Hugging Face model directory (default: the shipped models/kvkit-tiny)
  --backend NAME    cpu (default), webgpu, cuda
  --methods LIST    rows separated by commas, each name:key=value:… (see --list); an eviction
                    method may name the store it keeps its tokens in, method+store, e.g.
                    h2o:budget=0.5+quant:bits=4 (evict + quantize)
  --text FILE       any UTF-8 text (default: the model's held-out test text, <model>/eval/test.txt)
  --json FILE       one record per row (method, params, ppl, bpb, kl, recall, passkey, kvBytes, …)
  --html FILE       a self-contained report with plots
  --list            every available method with its parameters
  --calibration FILE  text the calibrated methods fit on (default: <model>/eval/calibration.txt)
  --workers N       rows measured in parallel, one model copy per worker thread (default: one per
                    core on the CPU backend, 1 on a GPU backend)
  --half-weights    keep an f16/bf16 checkpoint's matrices as stored on the CPU (@kvkit/llm's
                    halfWeights): half the memory per model copy, the same records
  --config-overrides JSON  config.json fields to replace (@kvkit/llm's configOverrides), e.g.
                    '{"rope_scaling":{"rope_type":"yarn","factor":4,"original_max_position_embeddings":32768}}'`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      backend: { type: 'string', default: 'cpu' },
      methods: { type: 'string' },
      text: { type: 'string' },
      json: { type: 'string' },
      html: { type: 'string' },
      list: { type: 'boolean', default: false },
      windows: { type: 'string', default: '2' },
      'window-tokens': { type: 'string' },
      'passkey-lengths': { type: 'string' },
      'passkey-per-cell': { type: 'string', default: '2' },
      seed: { type: 'string', default: '20261126' },
      workers: { type: 'string' },
      calibration: { type: 'string' },
      'half-weights': { type: 'boolean', default: false },
      'config-overrides': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  const methods = await availableMethods();
  const stores = await availableStores();
  if (values.list) return void console.log(describeMethods(methods, stores));

  let list = values.methods;
  if (!list) {
    const names = new Set(methods.map((m) => m.name));
    const chosen = DEFAULT_METHODS.filter((spec) => names.has(spec.split(':')[0]));
    const missing = DEFAULT_METHODS.filter((spec) => !names.has(spec.split(':')[0]));
    if (missing.length) console.error(`note: default rows not available in this install: ${missing.join(', ')}`);
    list = chosen.join(',');
  }
  if (!list.split(',').some((s) => s.trim().split(':')[0] === 'dense')) list = `dense,${list}`;
  const rows = resolveMethodList(list, methods, stores);

  const modelDir = resolve(values.model ?? DEFAULT_MODEL);
  const textFile = values.text ? resolve(values.text) : resolve(modelDir, 'eval', 'test.txt');
  const backend = await openBackend(values.backend!);
  const halfWeights = values['half-weights'];
  const configOverrides = parseConfigOverrides(values['config-overrides']);
  const model = await loadModel(modelDir, { backend, halfWeights, configOverrides });
  if (!existsSync(textFile)) {
    throw new InvalidConfigError(
      values.text ? `--text ${textFile} does not exist` : `no --text given and the model has no held-out text at ${textFile}; pass --text FILE`,
    );
  }
  const text = readFileSync(textFile, 'utf8');

  const calibrated = packagesNeedingCalibration(rows.map((r) => r.descriptor));
  let calibration = {};
  if (calibrated.length > 0) {
    const calibrationFile = values.calibration ? resolve(values.calibration) : resolve(modelDir, 'eval', 'calibration.txt');
    if (!existsSync(calibrationFile)) {
      const needing = rows.filter((r) => r.descriptor.needsCalibration).map((r) => r.label);
      throw new InvalidConfigError(`${needing.join(', ')} fit on calibration text, and ${calibrationFile} does not exist; pass --calibration FILE`);
    }
    calibration = await collectCalibration(model, readFileSync(calibrationFile, 'utf8'), calibrated);
  }
  let runs = parseMethodList(list, methods, await withTokenClasses(await calibrationContexts(calibration), model), stores);
  const unavailable = rowsThatCannotRunOn(model.cacheSpec(), runs);
  if (unavailable.length > 0) {
    const lines = unavailable.map(({ run, reason }) => `  ${run.label}: ${reason}`).join('\n');
    if (values.methods) throw new InvalidConfigError(`rows that cannot run on ${backend.name}:\n${lines}\nRun them with --backend cpu, or leave them out.`);
    console.error(`note: default rows that cannot run on ${backend.name}, left out:\n${lines}`);
    runs = runs.filter((run) => !unavailable.some((u) => u.run === run));
  }

  // Llama 4's windows stay within one attention chunk: beyond it only caches that can be emptied (dense, paged) run, and every row must.
  const context = model.config.attentionChunk ?? model.config.maxPositions;
  const windowTokens = Math.min(Number(values['window-tokens'] ?? Math.min(context, 1024)), context);
  // The recall probe (a passage, filler, the passage again) fits the context: a short one shrinks the passage, then the filler.
  const passage = Math.min(64, Math.floor(context / 4));
  const settings: BenchSettings = {
    windowTokens,
    windows: Number(values.windows),
    prefillFraction: 0.5,
    recallProbes: 2,
    recallPassageTokens: passage,
    recallFillerTokens: Math.max(0, Math.min(Math.round(windowTokens * 0.6), context - 2 * passage - 32)),
    passkeyLengths: (values['passkey-lengths'] ?? [256, 512, 1024].filter((l) => l <= context - 16).join(','))
      .split(',')
      .filter((l) => l !== '')
      .map(Number),
    passkeyDepths: [0.1, 0.5, 0.9],
    passkeyPerCell: Number(values['passkey-per-cell']),
    seed: Number(values.seed),
  };
  const progress = new Progress(tokensPerMethod(settings) * runs.length);
  const started = Date.now();
  const onProgress = (label: string, tokens: number) => {
    progress.setLabel(label);
    progress.advance(tokens);
  };
  const workers = workerCount(values.workers, backend.name, runs.length);
  const records =
    workers > 1
      ? await runBenchParallel({ modelDir, halfWeights, configOverrides, backend: backend.name, text, methods: runs, settings, calibration, workers, onProgress })
      : await runBench({ model, text, methods: runs, settings, onProgress });
  progress.finish();

  console.log(
    `kv-bench: model ${modelDir}${model.matrixDtype === model.dtype ? '' : ` (${model.matrixDtype} matrices as stored)`}, text ${textFile}, backend ${backend.name}, ${cpus().length} cores, ${workers} worker${workers > 1 ? 's' : ''}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  console.log(`windows: ${settings.windows} × ${settings.windowTokens} tokens (first ${settings.prefillFraction * 100}% prefilled, the rest decoded token by token); passkey prompts of ${settings.passkeyLengths.join('/')} tokens`);
  console.log(formatTable(records));
  const date = new Date().toISOString();
  if (values.json) {
    mkdirSync(dirname(resolve(values.json)), { recursive: true });
    writeFileSync(values.json, JSON.stringify({ model: modelDir, configOverrides, matrixDtype: model.matrixDtype, text: textFile, backend: backend.name, date, settings, records }, null, 2));
  }
  if (values.html) {
    mkdirSync(dirname(resolve(values.html)), { recursive: true });
    writeFileSync(values.html, htmlReport(records, { model: modelDir, text: textFile, backend: backend.name, date, settings: { ...settings } }));
  }
  model.dispose();
}

/** --workers, else one per core on the CPU (rows are independent) and one on a GPU (one device). */
function workerCount(given: string | undefined, backend: string, rows: number): number {
  if (given !== undefined) {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 1) throw new InvalidConfigError(`--workers must be a positive integer, got ${given}`);
    return Math.min(n, rows);
  }
  return backend === 'cpu' ? Math.min(availableParallelism(), rows) : 1;
}

/** --config-overrides: a JSON object of config.json fields (none: {}). */
function parseConfigOverrides(json: string | undefined): Record<string, unknown> {
  if (json === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new InvalidConfigError(`--config-overrides must be a JSON object of config.json fields: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError(`--config-overrides must be a JSON object of config.json fields, got ${json}`);
  return value as Record<string, unknown>;
}

main().catch((error: unknown) => {
  const code = (error as { code?: string }).code ?? '';
  if (error instanceof KvkitError || error instanceof BenchWorkerError) {
    console.error(`kv-bench: ${error.message} [${error.code}]`);
  } else if (code.startsWith('ERR_PARSE_ARGS')) {
    console.error(`kv-bench: ${(error as Error).message}\n\n${USAGE}`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
