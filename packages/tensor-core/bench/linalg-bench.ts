/**
 * Dense symmetric eigendecomposition benchmark (not a test): tensor-core's `eigh` next to LAPACK
 * (NumPy's `eigh`, syevd, through Debian's /usr/bin/python3) on the same matrices in the same run:
 * a random symmetric matrix and an RBF Gram matrix (the kernel methods' case, whose spectrum
 * decays fast) at several orders. Reports the best of three wall times and both residuals
 * max|AV − VΛ| / max|A|.
 *
 *   npm run bench:linalg -w @kvkit/tensor-core        (KVKIT_BENCH_SIZES=250,500 to choose orders)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng, eigh, fusedMultiplyAddActive, type Matrix } from '../src/index.js';
import { randomSymmetric, rbfGram } from '../test/random-matrices.js';

const sizes = (process.env.KVKIT_BENCH_SIZES ?? '250,500,1000,2000').split(',').map(Number);
const python = process.env.KVKIT_PYTHON ?? '/usr/bin/python3';

// The LAPACK side: reads each matrix, times numpy.linalg.eigh (best of three) and reports the
// residual of its result by the same definition.
const LAPACK_SCRIPT = `
import json, sys, time
import numpy as np
cases = json.load(open(sys.argv[1]))
out = []
for case in cases:
    n = case['n']
    a = np.fromfile(case['file'], dtype=np.float64).reshape(n, n)
    best = float('inf')
    for _ in range(3):
        start = time.perf_counter()
        w, v = np.linalg.eigh(a)
        best = min(best, time.perf_counter() - start)
    residual = np.abs(a @ v - v * w).max() / np.abs(a).max()
    out.append({'seconds': best, 'residual': float(residual)})
json.dump(out, open(sys.argv[2], 'w'))
`;

const randomSymmetricOf = (n: number, seed: number): Matrix => randomSymmetric(createRng(seed), n);

/** exp(−γ‖x_i − x_j‖²) of n Gaussian points in 5 dimensions. */
const rbfGramOf = (n: number, seed: number): Matrix => rbfGram(createRng(seed), n, { dims: 5, gamma: 0.1 });

/** max|AV − VΛ| / max|A| by direct loops. */
function residual(a: Matrix, values: Float64Array, vectors: Matrix): number {
  const n = a.rows;
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(a.data[i]));
  const column = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < n; k++) column[k] = vectors.data[k * n + j];
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += a.data[i * n + k] * column[k];
      worst = Math.max(worst, Math.abs(sum - values[j] * column[i]));
    }
  }
  return worst / scale;
}

const directory = mkdtempSync(join(tmpdir(), 'kvkit-linalg-bench-'));
try {
  const cases = sizes.flatMap((n) => [
    { label: 'random', n, matrix: randomSymmetricOf(n, n) },
    { label: 'rbf', n, matrix: rbfGramOf(n, n) },
  ]);
  const ours = cases.map(({ matrix }) => {
    eigh(matrix); // warm-up
    let best = Infinity;
    let result = eigh(matrix);
    for (let rep = 0; rep < 3; rep++) {
      const start = performance.now();
      result = eigh(matrix);
      best = Math.min(best, (performance.now() - start) / 1000);
    }
    return { seconds: best, residual: residual(matrix, result.values, result.vectors) };
  });
  const listing = cases.map(({ n, matrix }, index) => {
    const file = join(directory, `case-${index}.f64`);
    writeFileSync(file, new Uint8Array(matrix.data.buffer));
    return { n, file };
  });
  writeFileSync(join(directory, 'cases.json'), JSON.stringify(listing));
  writeFileSync(join(directory, 'lapack.py'), LAPACK_SCRIPT);
  const run = spawnSync(python, [join(directory, 'lapack.py'), join(directory, 'cases.json'), join(directory, 'out.json')], { stdio: 'inherit' });
  const lapack: Array<{ seconds: number; residual: number }> | null = run.status === 0 ? JSON.parse(readFileSync(join(directory, 'out.json'), 'utf8')) : null;
  if (!lapack) console.warn(`LAPACK side skipped: ${python} with NumPy failed (${run.error?.message ?? `exit ${run.status}`})`);

  console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} cores, node ${process.version}, fused multiply-adds ${fusedMultiplyAddActive() ? 'on' : 'off'}; LAPACK: NumPy's eigh (${python})`);
  console.log('matrix     n     kvkit s   LAPACK s   ratio   kvkit residual   LAPACK residual');
  cases.forEach(({ label, n }, index) => {
    const mine = ours[index];
    const theirs = lapack?.[index];
    const ratio = theirs ? (mine.seconds / theirs.seconds).toFixed(2) : '—';
    console.log(
      `${label.padEnd(8)} ${String(n).padStart(5)}  ${mine.seconds.toFixed(3).padStart(8)}  ${theirs ? theirs.seconds.toFixed(3).padStart(9) : '        —'}  ${ratio.padStart(6)}   ${mine.residual.toExponential(1).padStart(14)}   ${theirs ? theirs.residual.toExponential(1).padStart(15) : '—'}`,
    );
  });
} finally {
  rmSync(directory, { recursive: true, force: true });
}
