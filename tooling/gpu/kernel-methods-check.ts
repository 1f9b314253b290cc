/**
 * The kernel-methods GPU check (bundled by kernel-methods-check.sh into one file; no npm on the GPU machine):
 *   1. parity: KernelMatrix products on CUDA and WebGPU against the float64 host engine for every kernel
 *      with a tensor formula, and KernelRidge / KernelPCA fitted with the device engine against float64
 *      host fits (packages/kernel-methods/test/device-engine-cases.ts + device-estimator-cases.ts, the
 *      cases the SwiftShader and CUDA-emulator suites run);
 *   2. timings at n = 2000, 5000, 10000, 20000 on the benchmark's SpamAssassin rows
 *      (packages/kernel-methods/bench/spam-cases.ts, exported here by `--export-data` because the
 *      GPU machine has no node_modules): KPCA top 10 (Lanczos on the lazy centered operator, and
 *      randomized with its products on the device), Nyström
 *      KRR (FALKON, and solved directly: its normal equations on the device; m = 500),
 *      Nyström features (m = 500: `fitAsync`, then `transformAsync` of the
 *      test rows) and exact KRR (CG on the lazy operator), each with the CUDA and the WebGPU
 *      engine (`fitAsync`), with its accuracy next to it: eigenvalue error / prediction or φφᵀ difference
 *      against the float64 host path (run on that machine's CPU for n <= --reference-max; for Nyström
 *      features the kernel approximation φφᵀ, the features being ill-determined in f32) and test RMSE;
 *   3. scikit-learn on the same rows (tooling/fixtures/kernel_methods_sklearn.py) when `--python` names
 *      an interpreter that has it.
 * Every phase is bounded (scikit-learn gets 30% of the budget, the host reference runs while under 55%,
 * the engines share the rest; a timeout on each await and on the Python process); a failing or skipped step is recorded and the next one runs. Writes
 * <out>/kernel-methods/kernel-methods.json after every row and prints a markdown table last.
 *   --export-data FILE   (here, under tsx) writes the benchmark rows to FILE (.json header + FILE.bin)
 *   --data FILE          the exported rows (default .gpu-carry/kernel-methods-data.json)
 *   --emulate            the CUDA CPU emulator (and WebGPU on SwiftShader): a dry run of the script here
 *   --quick              tiny sizes (60, 90), tiles of 32, 20 centres: with --emulate, a dry run; timings meaningless
 *   --sizes a,b,..  --tile N (default 1024)  --reference-max N (default 10000)  --budget-s N (default 200)
 *   --python CMD         run scikit-learn with CMD (the .sh passes python3 when it imports sklearn)
 *   --skip-cuda / --skip-webgpu   leave an engine out
 *   --profile-falkon     (or KERNEL_METHODS_PROFILE=1) after the timings, one more FALKON fit per engine
 *                        at the largest size under V8's sampling profiler: <out>/kernel-methods/
 *                        falkon-profile-<engine>.txt (main-thread self time by function, idle = waiting)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { type Backend, createRng, type Matrix, matmulMatrix } from '@kvkit/tensor-core';
import { createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed, relativeError } from '@kvkit/tensor-core/testing';
import { createWebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { profiled } from './cpu-profile.js';
import { runScikitLearn } from '../../packages/kernel-methods/bench/scikit-learn-runner.js';
import { KernelPCA, KernelRidge, Nystroem, rbf } from '../../packages/kernel-methods/src/index.js';
import { deviceEngineCases } from '../../packages/kernel-methods/test/device-engine-cases.js';
import { deviceEstimatorCases } from '../../packages/kernel-methods/test/device-estimator-cases.js';

const argv = process.argv;
const option = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const COMPONENTS = 10;
const ALPHA = 1;

interface DataCase {
  n: number;
  trainRows: number;
  x: Matrix;
  y: Float64Array;
}

/** Here, under tsx: the benchmark's rows (bench/spam-cases.ts) as FILE (header) + FILE.bin (float64 x then y per case). */
async function exportData(file: string, sizes: number[]): Promise<void> {
  // Imported only here: spam-cases reads node_modules and the test fixtures when loaded.
  const { benchCases, paragraphs } = await import('../../packages/kernel-methods/bench/spam-cases.js');
  const cases = benchCases(paragraphs(), sizes);
  const parts: Float64Array[] = [];
  const header = cases.map((c) => {
    parts.push(c.x.data, c.y);
    return { n: c.n, d: c.x.cols, trainRows: c.trainRows };
  });
  writeFileSync(file, JSON.stringify({ source: 'packages/kernel-methods/bench/spam-cases.ts benchCases(paragraphs(), sizes)', cases: header }));
  writeFileSync(`${file}.bin`, Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
  console.log(`wrote ${cases.length} cases (${sizes.join(', ')}) to ${file} + .bin`);
}

function readData(file: string): DataCase[] {
  const header = JSON.parse(readFileSync(file, 'utf8')) as { cases: { n: number; d: number; trainRows: number }[] };
  const bytes = readFileSync(`${file}.bin`);
  const all = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  let offset = 0;
  return header.cases.map(({ n, d, trainRows }) => {
    const x = all.slice(offset, offset + n * d);
    const y = all.slice(offset + n * d, offset + n * d + n);
    offset += n * d + n;
    return { n, trainRows, x: { rows: n, cols: d, data: x }, y };
  });
}

/** φ·φᵀ of features φ (rows × m): the approximated kernel between the rows. */
const gram = (features: Matrix): Float64Array => matmulMatrix(features, features, { transposeB: true }).data;

const rows = (m: Matrix, start: number, end: number): Matrix => ({ rows: end - start, cols: m.cols, data: m.data.slice(start * m.cols, end * m.cols) });

function rmse(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < truth.length; i++) s += (pred[i] - truth[i]) ** 2;
  return Math.sqrt(s / truth.length);
}

/** ‖a − b‖/‖b‖, undefined without a reference. */
const relative = (a: ArrayLike<number>, b: ArrayLike<number> | undefined): number | undefined => (b ? relativeError(a, b) : undefined);

interface Row {
  n: number;
  engine: string;
  method: string;
  seconds?: number;
  detail?: string;
  rmse?: number;
  /** Eigenvalue error or prediction difference against the float64 host path. */
  vsHost?: number;
  /** scikit-learn's outputs, until compared with the host path. */
  eigenvalues?: number[];
  predictions?: number[];
  error?: string;
}

async function main(): Promise<void> {
  const exportFile = option('--export-data');
  const quick = argv.includes('--quick');
  const sizes = (option('--sizes') ?? (quick ? '60,90' : '2000,5000,10000,20000')).split(',').map(Number);
  if (exportFile) return exportData(exportFile, sizes);

  const emulate = argv.includes('--emulate');
  const outDir = join(option('--out') ?? process.env.OUT ?? '.', 'kernel-methods');
  mkdirSync(outDir, { recursive: true });
  const tileSize = Number(option('--tile') ?? (quick ? 32 : 1024));
  const referenceMax = Number(option('--reference-max') ?? 10000);
  const budgetMs = Number(option('--budget-s') ?? 200) * 1000;
  const landmarks = quick ? 20 : 500;
  const python = option('--python');
  const seed = freshSeed();
  const results: Row[] = [];
  const parity: Record<string, Record<string, number | string>> = {};
  const failures: Record<string, string> = {};
  const report = { date: new Date().toISOString(), seed, emulate, quick, tileSize, landmarks, alpha: ALPHA, components: COMPONENTS, parity, results, failures, sklearn: {} as Record<string, unknown> };
  const save = (): void => writeFileSync(join(outDir, 'kernel-methods.json'), JSON.stringify(report, null, 2));
  const started = performance.now();
  const elapsedMs = (): number => performance.now() - started;
  const log = (message: string): void => console.log(`[${(elapsedMs() / 1000).toFixed(1)} s] ${message}`);

  /** Awaits body with a time limit; the rejection says so. */
  async function bounded<T>(limitMs: number, body: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([body(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${limitMs} ms`)), limitMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  const dataFile = option('--data') ?? '.gpu-carry/kernel-methods-data.json';
  const data = readData(dataFile).filter((c) => sizes.includes(c.n));
  log(`data: ${data.map((c) => c.n).join(', ')} rows × ${data[0]?.x.cols} features from ${dataFile}; tiles of ${tileSize}`);
  const gamma = 1 / (data[0]?.x.cols ?? 25);
  const kernel = rbf({ gamma });

  // scikit-learn first (its own process, the same rows, like the CPU bench), within its share of the budget.
  const sklearnBudgetMs = python ? 0.3 * budgetMs : 0;
  if (!python) {
    console.log('scikit-learn: not run (no --python given)');
  } else {
    for (const c of data) {
      const left = sklearnBudgetMs - elapsedMs();
      if (left < 5_000) {
        failures[`scikit-learn n = ${c.n}`] = 'skipped: its share of the time budget is spent';
        continue;
      }
      try {
        const out = runScikitLearn<{ sklearn: string; results: Record<string, { seconds: number; eigenvalues?: number[]; rmse?: number; predictions?: number[] }>[] }>(
          '--bench-input',
          {
            // One run per body, as this check times its own side (the CPU bench takes medians of three).
            repeatBelowSeconds: 0,
            cases: [{ n: c.n, d: c.x.cols, x: Array.from(c.x.data), y: Array.from(c.y), gamma, components: COMPONENTS, alpha: ALPHA, landmarks, trainRows: c.trainRows, kpcaLimit: 20000, arpackLimit: 5000, krrLimit: 8000, nystroem: true }],
          },
          { python, script: 'tooling/fixtures/kernel_methods_sklearn.py', timeoutMs: Math.floor(left) },
        );
        report.sklearn.version = out.sklearn;
        const r = out.results[0];
        if (r.kpcaRandomized) results.push({ n: c.n, engine: 'scikit-learn', method: 'KPCA top 10 (randomized)', seconds: r.kpcaRandomized.seconds, vsHost: undefined, eigenvalues: r.kpcaRandomized.eigenvalues });
        if (r.kpcaArpack) results.push({ n: c.n, engine: 'scikit-learn', method: 'KPCA top 10 (ARPACK)', seconds: r.kpcaArpack.seconds, vsHost: undefined, eigenvalues: r.kpcaArpack.eigenvalues });
        if (r.nystroemRidge) results.push({ n: c.n, engine: 'scikit-learn', method: `Nystroem + Ridge (m = ${landmarks})`, seconds: r.nystroemRidge.seconds, rmse: r.nystroemRidge.rmse });
        if (r.kernelRidge) results.push({ n: c.n, engine: 'scikit-learn', method: 'exact KernelRidge', seconds: r.kernelRidge.seconds, rmse: r.kernelRidge.rmse, vsHost: undefined, predictions: r.kernelRidge.predictions });
      } catch (error) {
        failures[`scikit-learn n = ${c.n}`] = error instanceof Error ? error.message : String(error);
      }
      save();
      log(`scikit-learn n = ${c.n} done`);
    }
  }


  // The float64 host path (this machine's CPU, one Node thread) as the accuracy reference.
  const host = new Map<number, { eigenvalues?: Float64Array; exact?: Float64Array; falkon?: Float64Array; direct?: Float64Array; features?: Float64Array }>();
  for (const c of data) {
    if (c.n > referenceMax || elapsedMs() > sklearnBudgetMs + 0.25 * budgetMs) continue;
    const train = rows(c.x, 0, c.trainRows);
    const test = rows(c.x, c.trainRows, c.n);
    const yTrain = c.y.slice(0, c.trainRows);
    const yTest = c.y.slice(c.trainRows);
    const ref: { eigenvalues?: Float64Array; exact?: Float64Array; falkon?: Float64Array; direct?: Float64Array; features?: Float64Array } = {};
    let t = performance.now();
    ref.eigenvalues = new KernelPCA({ kernel, nComponents: COMPONENTS }).fit(c.x).eigenvalues;
    results.push({ n: c.n, engine: 'host f64', method: 'KPCA top 10 (stored K + Lanczos)', seconds: (performance.now() - t) / 1000 });
    t = performance.now();
    ref.falkon = new KernelRidge({ kernel, alpha: ALPHA, solver: 'nystroem-pcg', nCenters: landmarks, seed: 0, tolerance: 1e-5, maxIterations: 3000 }).fit(train, yTrain).predict(test).data;
    results.push({ n: c.n, engine: 'host f64', method: `Nyström KRR (FALKON, m = ${landmarks})`, seconds: (performance.now() - t) / 1000, rmse: rmse(ref.falkon, yTest) });
    t = performance.now();
    ref.direct = new KernelRidge({ kernel, alpha: ALPHA, solver: 'nystroem', nCenters: landmarks, seed: 0 }).fit(train, yTrain).predict(test).data;
    results.push({ n: c.n, engine: 'host f64', method: `Nyström KRR (direct, m = ${landmarks})`, seconds: (performance.now() - t) / 1000, rmse: rmse(ref.direct, yTest) });
    t = performance.now();
    ref.features = gram(new Nystroem({ kernel, nComponents: landmarks, seed: 0 }).fit(train).transform(test));
    results.push({ n: c.n, engine: 'host f64', method: `Nyström features (m = ${landmarks}): fit + transform of the test rows`, seconds: (performance.now() - t) / 1000 });
    t = performance.now();
    ref.exact = new KernelRidge({ kernel, alpha: ALPHA }).fit(train, yTrain).predict(test).data;
    results.push({ n: c.n, engine: 'host f64', method: 'exact KRR (stored K + CG)', seconds: (performance.now() - t) / 1000, rmse: rmse(ref.exact, yTest) });
    host.set(c.n, ref);
    save();
    log(`host reference n = ${c.n} done`);
  }

  for (const r of results) {
    if (r.engine !== 'scikit-learn') continue;
    const ref = host.get(r.n);
    if (r.eigenvalues) r.vsHost = relative(r.eigenvalues, ref?.eigenvalues);
    if (r.predictions) r.vsHost = relative(r.predictions, ref?.exact);
    delete r.eigenvalues;
    delete r.predictions;
  }

  const engines: [string, () => Promise<Backend>][] = [];
  if (!argv.includes('--skip-cuda')) engines.push(['cuda', () => createCudaBackend({ runtime: () => loadCudaRuntime({ emulate }) })]);
  if (!argv.includes('--skip-webgpu')) {
    // Unquantized timestamps; KVKIT_DAWN_NODE (the GPU machine's bundle has no node_modules) is honoured by the backend.
    engines.push(['webgpu', () => createWebGpuBackend({ dawnFlags: ['disable-dawn-features=timestamp_quantization'], adapter: { powerPreference: 'high-performance' }, maxPooledBytes: 4 * 2 ** 30 })]);
  }
  // Open each engine and run the parity cases; then, size by size, every engine (so that both reach
  // the same sizes) until the budget is spent.
  const open: [string, Backend][] = [];
  for (const [name, create] of engines) {
    try {
      const backend = await bounded(60_000, create);
      open.push([name, backend]);
    } catch (error) {
      failures[`${name}: open`] = error instanceof Error ? error.message : String(error);
      log(`${name}: no backend (${failures[`${name}: open`]})`);
      continue;
    }
    const backend = open[open.length - 1][1];
    const rng = createRng(seed);
    const caseResults: Record<string, number | string> = {};
    parity[name] = caseResults;
    for (const c of [...deviceEngineCases(), ...deviceEstimatorCases()]) {
      try {
        const error = await bounded(30_000, () => c.run(backend, rng));
        caseResults[c.name] = error <= c.tolerance ? error : `FAILED: relative error ${error} > ${c.tolerance}`;
      } catch (error) {
        caseResults[c.name] = `FAILED: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    log(`${name}: parity done`);
    save();
  }
  const left = (): number => budgetMs - elapsedMs();
  for (const c of data) {
    const train = rows(c.x, 0, c.trainRows);
    const test = rows(c.x, c.trainRows, c.n);
    const yTrain = c.y.slice(0, c.trainRows);
    const yTest = c.y.slice(c.trainRows);
    const ref = host.get(c.n);
    for (const [name, backend] of open) {
      const options = { tileSize, engine: backend };
      // A timed-out row's work is not cancelled (it keeps the device busy): every later row is then skipped too.
      const timed = async (method: string, body: () => Promise<Omit<Row, 'n' | 'engine' | 'method' | 'seconds'>>): Promise<void> => {
        if (left() <= 0) {
          results.push({ n: c.n, engine: name, method, error: 'skipped: time budget spent' });
          return;
        }
        const t = performance.now();
        try {
          const row = await bounded(Math.floor(left()), body);
          results.push({ n: c.n, engine: name, method, seconds: (performance.now() - t) / 1000, ...row });
        } catch (error) {
          results.push({ n: c.n, engine: name, method, error: error instanceof Error ? error.message : String(error) });
        }
        save();
      };
      await timed('KPCA top 10 (Lanczos on the lazy operator)', async () => {
        const model = await new KernelPCA({ kernel, nComponents: COMPONENTS, ...options }).fitAsync(c.x);
        return { detail: `${model.iterations} products`, vsHost: relative(model.eigenvalues as Float64Array, ref?.eigenvalues) };
      });
      // Randomized KPCA: a few wide products (one read-back each) instead of Lanczos's ~40 narrow ones.
      await timed('KPCA top 10 (randomized, products on the device)', async () => {
        const model = await new KernelPCA({ kernel, nComponents: COMPONENTS, solver: 'randomized', seed: 0, ...options }).fitAsync(c.x);
        return { vsHost: relative(model.eigenvalues as Float64Array, ref?.eigenvalues) };
      });
      await timed(`Nyström KRR (FALKON, m = ${landmarks})`, async () => {
        const model = await new KernelRidge({ kernel, alpha: ALPHA, solver: 'nystroem-pcg', nCenters: landmarks, seed: 0, tolerance: 1e-5, maxIterations: 3000, ...options }).fitAsync(train, yTrain);
        const pred = (await model.predictAsync(test)).data;
        return { detail: `${model.iterations} it.`, rmse: rmse(pred, yTest), vsHost: relative(pred, ref?.falkon) };
      });
      // The normal equations on the device: CUDA in float64, WebGPU f32 kernel values summed exactly.
      await timed(`Nyström KRR (direct, m = ${landmarks})`, async () => {
        const model = await new KernelRidge({ kernel, alpha: ALPHA, solver: 'nystroem', nCenters: landmarks, seed: 0, ...options }).fitAsync(train, yTrain);
        const pred = (await model.predictAsync(test)).data;
        return { rmse: rmse(pred, yTest), vsHost: relative(pred, ref?.direct) };
      });
      await timed(`Nyström features (m = ${landmarks}): fit + transform of the test rows`, async () => {
        const map = await new Nystroem({ kernel, nComponents: landmarks, seed: 0, ...options }).fitAsync(train);
        const features = await map.transformAsync(test);
        // φφᵀ (the kernel approximation, what the features are for); the features themselves differ
        // from the host's along K_CC's tiniest eigenvectors, where f32 errors in k(x, C) are amplified ~1e6.
        return { detail: `${test.rows} × ${landmarks} features; error of φφᵀ`, vsHost: relative(gram(features), ref?.features) };
      });
      await timed('exact KRR (CG on the lazy operator)', async () => {
        const model = await new KernelRidge({ kernel, alpha: ALPHA, solver: 'cg', tolerance: 1e-5, maxIterations: 3000, ...options }).fitAsync(train, yTrain);
        const pred = (await model.predictAsync(test)).data;
        return { detail: `${model.iterations} it.`, rmse: rmse(pred, yTest), vsHost: relative(pred, ref?.exact) };
      });
      log(`${name}: n = ${c.n} done`);
    }
  }
  // Where a FALKON fit's time goes on the host (its GPU work is two products an iteration).
  if (argv.includes('--profile-falkon') || process.env.KERNEL_METHODS_PROFILE === '1') {
    const c = data[data.length - 1];
    for (const [name, backend] of open) {
      if (left() <= 0 || !c) break;
      try {
        const { summary } = await bounded(Math.floor(left()), () =>
          profiled(`FALKON fitAsync, ${name}, n = ${c.trainRows} training rows, m = ${landmarks}`, () =>
            new KernelRidge({ kernel, alpha: ALPHA, solver: 'nystroem-pcg', nCenters: landmarks, seed: 0, tolerance: 1e-5, maxIterations: 3000, tileSize, engine: backend }).fitAsync(
              rows(c.x, 0, c.trainRows),
              c.y.slice(0, c.trainRows),
            ),
          ),
        );
        writeFileSync(join(outDir, `falkon-profile-${name}.txt`), `${summary}\n`);
        log(summary.split('\n')[0]);
      } catch (error) {
        failures[`${name}: FALKON profile`] = error instanceof Error ? error.message : String(error);
      }
    }
  }
  if (left() > 0) for (const [, backend] of open) backend.dispose();

  const lines = [
    `kernel-methods on ${emulate ? 'the CUDA emulator / SwiftShader (dry run: timings meaningless)' : 'the GPU'}, seed ${seed}, tiles of ${tileSize}, rbf γ = 1/${data[0]?.x.cols}, α = ${ALPHA}`,
    '',
    '| engine | parity cases within tolerance |',
    '|---|---|',
  ];
  for (const [engine, cases] of Object.entries(parity)) {
    const failed = Object.entries(cases).filter(([, v]) => typeof v === 'string');
    lines.push(`| ${engine} | ${Object.keys(cases).length - failed.length}/${Object.keys(cases).length} |`);
    for (const [caseName, v] of failed) lines.push(`| ✗ ${caseName} | ${v} |`);
  }
  lines.push('', '| n | engine | method | s | RMSE | vs float64 host | note |', '|---|---|---|---|---|---|---|');
  const sorted = [...results].sort((a, b) => a.n - b.n || a.method.localeCompare(b.method) || a.engine.localeCompare(b.engine));
  for (const r of sorted) {
    lines.push(`| ${r.n} | ${r.engine} | ${r.method} | ${r.seconds?.toFixed(2) ?? '–'} | ${r.rmse?.toFixed(4) ?? '–'} | ${r.vsHost?.toExponential(1) ?? '–'} | ${r.error ?? r.detail ?? ''} |`);
  }
  for (const [step, message] of Object.entries(failures)) lines.push(`| – | – | ${step} failed | – | – | – | ${message} |`);
  save();
  console.log(lines.join('\n'));
}

main()
  .catch((error) => {
    console.log(`kernel-methods check failed: ${error instanceof Error ? error.stack : String(error)}`);
  })
  .finally(() => process.exit(0));
