#!/usr/bin/env node
// Writes the held-out test split as plain text next to the model (<model>/eval/test.txt), documents
// interleaved by source and separated by blank lines: the default text of kv-bench. These documents
// were never trained on.
//   node export-eval-text.mjs [--data build/data] [--out ../../models/kvkit-tiny/eval/test.txt]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const data = arg('--data', join(import.meta.dirname, 'build', 'data'));
const out = arg('--out', join(import.meta.dirname, '..', '..', 'models', 'kvkit-tiny', 'eval', 'test.txt'));
const docs = readFileSync(join(data, 'test.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
const bySource = new Map();
for (const d of docs) bySource.set(d.source, [...(bySource.get(d.source) ?? []), d]);
const queues = [...bySource.values()];
const ordered = [];
while (queues.some((q) => q.length)) for (const q of queues) if (q.length) ordered.push(q.shift());
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, ordered.map((d) => d.text).join('\n\n') + '\n');
console.log(`${ordered.length} test documents → ${out}`);
