#!/usr/bin/env node
// Writes the held-out texts next to the model, documents interleaved by source and separated by
// blank lines (none of them were trained on):
//   <model>/eval/test.txt         the test split: kv-bench's default evaluation text
//   <model>/eval/calibration.txt  ~120 kB of the validation split: what methods that fit on the model
//                                 (KVQuant, coupled quantization, low-rank projections) calibrate on
//   node export-eval-text.mjs [--data build/data] [--model ../../models/kvkit-tiny]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const data = arg('--data', join(import.meta.dirname, 'build', 'data'));
const model = arg('--model', join(import.meta.dirname, '..', '..', 'models', 'kvkit-tiny'));

/** The split's documents, round-robin by source (so any stretch of the text mixes sources). */
function interleaved(split) {
  const docs = readFileSync(join(data, `${split}.jsonl`), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const bySource = new Map();
  for (const d of docs) bySource.set(d.source, [...(bySource.get(d.source) ?? []), d]);
  const queues = [...bySource.values()];
  const ordered = [];
  while (queues.some((q) => q.length)) for (const q of queues) if (q.length) ordered.push(q.shift());
  return ordered.map((d) => d.text);
}

const out = join(model, 'eval');
mkdirSync(out, { recursive: true });
const test = interleaved('test');
writeFileSync(join(out, 'test.txt'), test.join('\n\n') + '\n');
console.log(`${test.length} test documents → ${join(out, 'test.txt')}`);
const calibration = [];
for (const text of interleaved('validation')) {
  if (calibration.join('\n\n').length > 120_000) break;
  calibration.push(text);
}
writeFileSync(join(out, 'calibration.txt'), calibration.join('\n\n') + '\n');
console.log(`${calibration.length} validation documents → ${join(out, 'calibration.txt')}`);
