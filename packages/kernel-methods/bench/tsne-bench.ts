// Benchmark: Barnes–Hut t-SNE (perplexity 30, theta 0.5, 1000 iterations, PCA init) next to
// scikit-learn's TSNE(method='barnes_hut') on the same rows in the same run
// (tooling/fixtures/kernel_methods_sklearn.py --tsne-bench-input …). Prints a markdown table.
//
//   npm run bench:tsne -w @kvkit/kernel-methods                    # sizes 2000,5000
//   KVKIT_BENCH_SIZES=2000 npm run bench:tsne -w @kvkit/kernel-methods
import { cpus } from 'node:os';
import { barnesHutTsne } from '../src/index.js';
import { runScikitLearn } from './scikit-learn-runner.js';
import { benchCases, paragraphs, time } from './spam-cases.js';

const sizes = (process.env.KVKIT_BENCH_SIZES ?? '2000,5000').split(',').map(Number);
const all = paragraphs();
const cases = benchCases(all, sizes);
console.error(`data: ${all.x.rows} paragraphs × ${all.x.cols} features; sizes ${sizes.join(', ')}`);

const sk = runScikitLearn<{ sklearn: string; numpy: string; results: { n: number; seconds: number; klDivergence: number }[] }>('--tsne-bench-input', {
  cases: cases.map((c) => ({ n: c.n, d: c.x.cols, x: Array.from(c.x.data) })),
});

const lines = ['| n | kvkit barnesHutTsne (s) | scikit-learn TSNE barnes_hut (s) | kvkit KL | scikit-learn KL |', '|---|---|---|---|---|'];
cases.forEach((c, index) => {
  const ref = sk.results[index];
  const run = time(() => barnesHutTsne(c.x, { perplexity: 30, theta: 0.5, seed: 0 }));
  lines.push(`| ${c.n} | ${run.seconds.toFixed(1)} | ${ref.seconds.toFixed(1)} | ${run.value.klDivergence.toFixed(3)} | ${ref.klDivergence.toFixed(3)} |`);
  console.error(`kvkit: n = ${c.n} done`);
});

console.log(`\nMachine: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length} cores, Node ${process.version}; scikit-learn ${sk.sklearn}, numpy ${sk.numpy}; ${new Date().toISOString().slice(0, 10)}\n`);
console.log(lines.join('\n'));
