// Benchmark: KPCA, Nyström and kernel ridge regression at n = 2k … 20k on the CPU, next to
// scikit-learn on the same rows in the same run (tooling/fixtures/kernel_methods_sklearn.py
// --bench-input … --bench-output …). Prints a markdown table for BENCHMARKS.md.
//
//   npm run bench -w @kvkit/kernel-methods                 # sizes 2000,5000,10000,20000
//   KVKIT_BENCH_SIZES=2000,5000 npm run bench -w @kvkit/kernel-methods
//   KVKIT_BENCH_METHODS=nystroem KVKIT_BENCH_SIZES=20000 npm run bench -w @kvkit/kernel-methods
//
// KVKIT_BENCH_THREADS=1 keeps kvkit on one thread. KVKIT_BENCH_METHODS picks rows (default all): kpca-lanczos (the default KernelPCA: stored K,
// Lanczos), kpca-randomized, kpca-dual, nystroem, nystroem-multi (10 target columns), krr-pcg (the default KernelRidge: stored K,
// preconditioned CG), krr (Cholesky and CG on the lazy operator), krr-cholesky (Cholesky alone); the scikit-learn side skips
// KPCA / Nystroem / exact KernelRidge too when their rows are not picked.
//
// Data: bench/spam-cases.ts (SpamAssassin paragraphs, 25 standardized text features); the
// regression target is the e-mail's spam label (0/1).
import { cpus } from 'node:os';
import { cholesky, choleskySolve, fusedMultiplyAddActive, type Matrix, matmulMatrix, SimdArena, setSimdThreads, simdThreadCount } from '@kvkit/tensor-core';
import { type Kernel, KernelPCA, KernelRidge, Nystroem, rbf } from '../src/index.js';
import { runScikitLearn } from './scikit-learn-runner.js';
import { benchCases, paragraphs, REPEAT_BELOW_SECONDS, time } from './spam-cases.js';

const sizes = (process.env.KVKIT_BENCH_SIZES ?? '2000,5000,10000,20000').split(',').map(Number);
const COMPONENTS = 10;
const LANDMARKS = 500;
/** Target columns of the multi-output row: column j is y + x[:, j] (the text length plus one standardized feature). */
const OUTPUTS = 10;
const ALPHA = 1;
const methods = new Set((process.env.KVKIT_BENCH_METHODS ?? 'kpca-lanczos,kpca-randomized,kpca-dual,nystroem,nystroem-multi,krr-pcg,krr').split(','));
const kpca = methods.has('kpca-lanczos') || methods.has('kpca-randomized') || methods.has('kpca-dual');
const choleskyKrr = methods.has('krr') || methods.has('krr-cholesky');
const exactKrr = choleskyKrr || methods.has('krr-pcg');
// scikit-learn's exact KPCA (ARPACK) and KernelRidge hold the full n×n K (3.2 GB at n = 20000,
// plus a centered copy for KPCA): every size of the default run fits this machine's 24 GiB.
const LIMITS = {
  kpcaLimit: methods.has('kpca-randomized') ? 20000 : 0,
  arpackLimit: kpca ? 20000 : 0,
  krrLimit: exactKrr ? 16000 : 0,
  nystroem: methods.has('nystroem'),
  exactKpcaLimit: 0,
  choleskyLimit: 8000,
};

/** The multi-output row's targets, n × OUTPUTS row-major (scikit-learn receives the same values). */
function multiTargets(c: { n: number; x: Matrix; y: Float64Array }): Float64Array {
  const out = new Float64Array(c.n * OUTPUTS);
  for (let i = 0; i < c.n; i++) for (let j = 0; j < OUTPUTS; j++) out[i * OUTPUTS + j] = c.y[i] + c.x.data[i * c.x.cols + j];
  return out;
}

/**
 * The explicit Nyström features route: Φ = `Nystroem.transform` of the training rows, a ridge on Φ
 * (ΦᵀΦ + αI by Cholesky), and the test rows' features times its weights: the predictions.
 */
function featuresRidge(kernel: Kernel, landmarks: number, train: Matrix, yTrain: Float64Array, test: Matrix): Float64Array {
  const map = new Nystroem({ kernel, nComponents: landmarks, seed: 0 }).fit(train);
  const phi = map.transform(train);
  const gram = matmulMatrix(phi, phi, { transposeA: true });
  for (let i = 0; i < landmarks; i++) gram.data[i * landmarks + i] += ALPHA;
  const w = choleskySolve(cholesky(gram), matmulMatrix(phi, { rows: train.rows, cols: 1, data: yTrain }, { transposeA: true }));
  return matmulMatrix(map.transform(test), w).data;
}

function rmse(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < truth.length; i++) s += (pred[i] - truth[i]) ** 2;
  return Math.sqrt(s / truth.length);
}


/** ‖a − b‖/‖b‖ (kvkit's eigenvalues or predictions against the reference), or '–' without one. */
function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number> | undefined): string {
  if (!b) return '–';
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm).toExponential(1);
}

/**
 * The stored-K solvers' budget for n points: the default 512 MiB, or (n = 20000: 1.6 GB, 16000
 * training rows: 1.0 GB) the packed triangle's own size, so the default solvers still store K.
 */
function storedBudget(n: number): { maxMemoryBytes?: number } {
  const bytes = (n * (n + 1) * 8) / 2;
  return bytes <= 512 * 2 ** 20 ? {} : { maxMemoryBytes: bytes };
}

const budgetNote = (n: number) => (storedBudget(n).maxMemoryBytes ? `, maxMemoryBytes ${(((n * (n + 1)) / 2) * 8 / 1e9).toFixed(1)} GB` : '');

// KVKIT_BENCH_THREADS=1 runs kvkit on one thread (default: setSimdThreads' default). The worker
// threads start with the first threaded arena (≈ 0.1 s, once per process, like a BLAS thread pool's
// start): started here, before any timing.
if (process.env.KVKIT_BENCH_THREADS) setSimdThreads(Number(process.env.KVKIT_BENCH_THREADS));
SimdArena.create([1], undefined, { threads: true })?.release();

const all = paragraphs();
const d = all.x.cols;
const gamma = 1 / d;
// One small fit of each timed estimator first, with the timed settings (solver, m = LANDMARKS), so
// the timings measure the compiled code, not V8 compiling it (≈ 0.1 s on the first call of each
// path: eigh of K_CC at m = 500 took 0.22 s the first time against 0.10–0.13 s after); scikit-learn's
// code needs no warm-up.
{
  const warm = benchCases(all, [800])[0];
  const xs = { rows: warm.trainRows, cols: d, data: warm.x.data.slice(0, warm.trainRows * d) };
  const ys = warm.y.slice(0, warm.trainRows);
  for (const solver of ['lanczos', 'randomized', 'dual'] as const) new KernelPCA({ kernel: rbf({ gamma }), nComponents: COMPONENTS, solver }).fit(warm.x);
  new KernelRidge({ kernel: rbf({ gamma }), alpha: ALPHA }).fit(xs, ys);
  new KernelRidge({ kernel: rbf({ gamma }), alpha: ALPHA, solver: 'cholesky' }).fit(xs, ys);
  new KernelRidge({ kernel: rbf({ gamma }), alpha: ALPHA, solver: 'nystroem-pcg', nCenters: LANDMARKS, seed: 0 }).fit(xs, ys);
  new KernelRidge({ kernel: rbf({ gamma }), alpha: ALPHA, solver: 'nystroem', nCenters: LANDMARKS, seed: 0 }).fit(xs, ys);
  featuresRidge(rbf({ gamma }), LANDMARKS, xs, ys, { rows: warm.n - warm.trainRows, cols: d, data: warm.x.data.slice(warm.trainRows * d) });
}
console.error(`data: ${all.x.rows} paragraphs × ${d} features; sizes ${sizes.join(', ')}`);
const cases = benchCases(all, sizes);

// scikit-learn first (its own process, same rows), then kvkit.
const sk = runScikitLearn<{ sklearn: string; numpy: string; results: Record<string, { seconds: number; cpuSeconds: number; eigenvalues?: number[]; rmse?: number; predictions?: number[] }>[] }>('--bench-input', {
  cases: cases.map((c) => ({
    n: c.n,
    d,
    x: Array.from(c.x.data),
    y: Array.from(c.y),
    ...(methods.has('nystroem-multi') ? { yMulti: Array.from(multiTargets(c)), outputs: OUTPUTS } : {}),
    gamma,
    components: COMPONENTS,
    alpha: ALPHA,
    landmarks: LANDMARKS,
    trainRows: c.trainRows,
    ...LIMITS,
  })),
});

const seconds = (s: number) => (s < 10 ? s.toFixed(2) : s.toFixed(1));
/** Wall-clock seconds, then CPU seconds of the process (all threads) in parentheses. */
const fmt = (run: { seconds: number; cpuSeconds?: number } | undefined) =>
  run === undefined ? '–' : run.cpuSeconds === undefined ? seconds(run.seconds) : `${seconds(run.seconds)} (${seconds(run.cpuSeconds)})`;
const lines: string[] = [];
lines.push(`| n | method | kvkit s: wall (CPU) | scikit-learn s: wall (CPU) | kvkit accuracy | scikit-learn accuracy |`);
lines.push(`|---|---|---|---|---|---|`);
cases.forEach((c, index) => {
  const ref = sk.results[index];
  const kernel = rbf({ gamma });
  const train: Matrix = { rows: c.trainRows, cols: d, data: c.x.data.slice(0, c.trainRows * d) };
  const test: Matrix = { rows: c.n - c.trainRows, cols: d, data: c.x.data.slice(c.trainRows * d) };
  const yTrain = c.y.slice(0, c.trainRows);
  const yTest = c.y.slice(c.trainRows);
  const reference = ref.kpcaArpack?.eigenvalues;

  if (methods.has('kpca-lanczos')) {
    const model = new KernelPCA({ kernel, nComponents: COMPONENTS, ...storedBudget(c.n) });
    if (model.resolveSolver(c.n) !== 'lanczos') throw new Error(`bench: KernelPCA auto picked ${model.resolveSolver(c.n)} at n = ${c.n}`);
    const lanczos = time(() => model.fit(c.x));
    lines.push(
      `| ${c.n} | KPCA default: stored K + Lanczos (10 comp., ${model.iterations} products${budgetNote(c.n)}) / ARPACK | ${fmt(lanczos)} | ${fmt(ref.kpcaArpack)} | ${relativeDifference(model.eigenvalues as Float64Array, reference)} | reference |`,
    );
  }
  if (methods.has('kpca-randomized')) {
    const randomized = time(() => new KernelPCA({ kernel, nComponents: COMPONENTS, solver: 'randomized', seed: 0 }).fit(c.x));
    lines.push(
      `| ${c.n} | KPCA randomized (10 comp.) | ${fmt(randomized)} | ${fmt(ref.kpcaRandomized)} | ${relativeDifference(randomized.value.eigenvalues as Float64Array, reference)} | ${relativeDifference(ref.kpcaRandomized?.eigenvalues ?? [], reference)} |`,
    );
  }
  if (methods.has('kpca-dual')) {
    const dual = time(() => new KernelPCA({ kernel, nComponents: COMPONENTS, solver: 'dual', seed: 0, dual: { tolerance: 1e-4 } }).fit(c.x));
    lines.push(`| ${c.n} | KPCA dual gradient (10 comp.) | ${fmt(dual)} | – | ${relativeDifference(dual.value.eigenvalues as Float64Array, reference)} | – |`);
  }
  if (c.n <= LIMITS.exactKpcaLimit) {
    const exact = time(() => new KernelPCA({ kernel, nComponents: COMPONENTS, solver: 'exact' }).fit(c.x));
    lines.push(`| ${c.n} | KPCA exact / ARPACK | ${fmt(exact)} | ${fmt(ref.kpcaArpack)} | ${relativeDifference(exact.value.eigenvalues as Float64Array, reference)} | reference |`);
  } else if (ref.kpcaArpack) {
    lines.push(`| ${c.n} | KPCA ARPACK (reference) | – | ${fmt(ref.kpcaArpack)} | – | reference |`);
  }
  if (kpca) console.error(`kvkit: n = ${c.n} KPCA done`);

  if (methods.has('nystroem')) {
    const nys = time(() => {
      const model = new KernelRidge({ kernel, alpha: ALPHA, solver: 'nystroem-pcg', nCenters: LANDMARKS, seed: 0, tolerance: 1e-5, maxIterations: 3000 }).fit(train, yTrain);
      return model.predict(test).data;
    });
    lines.push(`| ${c.n} | Nyström KRR, m = ${LANDMARKS} (FALKON-PCG / Nystroem+Ridge) | ${fmt(nys)} | ${fmt(ref.nystroemRidge)} | RMSE ${rmse(nys.value, yTest).toFixed(4)} | RMSE ${ref.nystroemRidge?.rmse?.toFixed(4)} |`);
    const direct = time(() => new KernelRidge({ kernel, alpha: ALPHA, solver: 'nystroem', nCenters: LANDMARKS, seed: 0 }).fit(train, yTrain).predict(test).data);
    lines.push(`| ${c.n} | Nyström KRR, m = ${LANDMARKS} (direct / Nystroem+Ridge) | ${fmt(direct)} | ${fmt(ref.nystroemRidge)} | RMSE ${rmse(direct.value, yTest).toFixed(4)} | RMSE ${ref.nystroemRidge?.rmse?.toFixed(4)} |`);
    const features = time(() => featuresRidge(kernel, LANDMARKS, train, yTrain, test));
    lines.push(`| ${c.n} | Nystroem features + ridge, m = ${LANDMARKS} | ${fmt(features)} | ${fmt(ref.nystroemRidge)} | RMSE ${rmse(features.value, yTest).toFixed(4)} | RMSE ${ref.nystroemRidge?.rmse?.toFixed(4)} |`);
  }
  if (methods.has('nystroem')) console.error(`kvkit: n = ${c.n} Nyström done`);

  if (methods.has('nystroem-multi')) {
    const targets = multiTargets(c);
    const yTrainMulti: Matrix = { rows: c.trainRows, cols: OUTPUTS, data: targets.subarray(0, c.trainRows * OUTPUTS) };
    const yTestMulti = targets.subarray(c.trainRows * OUTPUTS);
    for (const [solver, label] of [['nystroem-pcg', 'FALKON-PCG'], ['nystroem', 'direct']] as const) {
      const multi = time(() =>
        new KernelRidge({ kernel, alpha: ALPHA, solver, nCenters: LANDMARKS, seed: 0, tolerance: 1e-5, maxIterations: 3000 }).fit(train, yTrainMulti).predict(test).data,
      );
      lines.push(
        `| ${c.n} | Nyström KRR, ${OUTPUTS} outputs, m = ${LANDMARKS} (${label} / Nystroem+Ridge) | ${fmt(multi)} | ${fmt(ref.nystroemRidgeMulti)} | RMSE ${rmse(multi.value, yTestMulti).toFixed(4)} | RMSE ${ref.nystroemRidgeMulti?.rmse?.toFixed(4)} |`,
      );
    }
    console.error(`kvkit: n = ${c.n} Nyström, ${OUTPUTS} outputs done`);
  }

  const skPredictions = ref.kernelRidge?.predictions;
  if (methods.has('krr-pcg')) {
    const model = new KernelRidge({ kernel, alpha: ALPHA, ...storedBudget(c.trainRows) });
    if (model.resolveSolver(c.trainRows) !== 'pcg') throw new Error(`bench: KernelRidge auto picked ${model.resolveSolver(c.trainRows)} at n = ${c.trainRows}`);
    const pcg = time(() => model.fit(train, yTrain).predict(test).data);
    lines.push(
      `| ${c.n} | KRR default: stored K + PCG (${model.iterations} it.${budgetNote(c.trainRows)}) | ${fmt(pcg)} | ${fmt(ref.kernelRidge)} | RMSE ${rmse(pcg.value, yTest).toFixed(4)}; pred. vs sklearn ${relativeDifference(pcg.value, skPredictions)} | RMSE ${ref.kernelRidge?.rmse?.toFixed(4) ?? '–'} |`,
    );
  }
  if (choleskyKrr && c.trainRows <= LIMITS.choleskyLimit) {
    const chol = time(() => new KernelRidge({ kernel, alpha: ALPHA, solver: 'cholesky' }).fit(train, yTrain).predict(test).data);
    lines.push(`| ${c.n} | KRR exact (Cholesky) | ${fmt(chol)} | ${fmt(ref.kernelRidge)} | RMSE ${rmse(chol.value, yTest).toFixed(4)} | RMSE ${ref.kernelRidge?.rmse?.toFixed(4) ?? '–'} |`);
  }
  if (methods.has('krr')) {
    const cg = time(() => {
      const model = new KernelRidge({ kernel, alpha: ALPHA, solver: 'cg', tolerance: 1e-5, maxIterations: 3000 }).fit(train, yTrain);
      return { pred: model.predict(test).data, iterations: model.iterations };
    });
    lines.push(
      `| ${c.n} | KRR exact (CG on the lazy operator, ${cg.value.iterations} it.) | ${fmt(cg)} | ${fmt(ref.kernelRidge)} | RMSE ${rmse(cg.value.pred, yTest).toFixed(4)} | RMSE ${ref.kernelRidge?.rmse?.toFixed(4) ?? '–'} |`,
    );
  }
  if (exactKrr) console.error(`kvkit: n = ${c.n} KRR done`);
});

console.log(`\nMachine: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length} cores, kvkit on ${simdThreadCount()} threads (fused multiply-adds ${fusedMultiplyAddActive() ? 'on' : 'off'}), Node ${process.version}; scikit-learn ${sk.sklearn}, numpy ${sk.numpy}; ${new Date().toISOString().slice(0, 10)}`);
console.log(`Data: ${all.x.rows} SpamAssassin paragraphs, 25 standardized text features, rbf γ = 1/25, α = ${ALPHA}, 80/20 split.`);
console.log(`Eigenvalue accuracy: ‖λ − λ_ARPACK‖/‖λ_ARPACK‖ of the top 10 (ARPACK, float64, as reference where it ran).`);
console.log(`Times: the median of 3 runs where one run takes under ${REPEAT_BELOW_SECONDS} s, else one run; the same rule on both sides.\n`);
console.log(lines.join('\n'));
