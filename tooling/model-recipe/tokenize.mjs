#!/usr/bin/env node
// Tokenizes each split with the trained tokenizer.json through @huggingface/tokenizers — the same
// library @kvkit/llm uses at inference — so training and inference see identical token ids.
// Writes, in <data>/:
//   <split>.u16      documents as uint16 ids, each preceded by <|endoftext|> (id 0)
//   passkey.u16/.idx synthetic passkey documents for training (filler: the classic sentences or
//                    train-split text), with uint32 start offsets
//   node tokenize.mjs [--data build/data] [--tokenizer build/tokenizer.json] [--passkeys 6000]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { CLASSIC_FILLER, passkeyDocument, randomPasskey } from './passkey.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const data = arg('--data', join(import.meta.dirname, 'build', 'data'));
const tokenizerFile = arg('--tokenizer', join(import.meta.dirname, 'build', 'tokenizer.json'));
const passkeys = Number(arg('--passkeys', '6000'));
const tokenizer = new Tokenizer(JSON.parse(readFileSync(tokenizerFile, 'utf8')), { clean_up_tokenization_spaces: false });
const eos = tokenizer.token_to_id('<|endoftext|>');

const readDocs = (split) => readFileSync(join(data, `${split}.jsonl`), 'utf8').trim().split('\n').map((line) => JSON.parse(line));

for (const split of ['train', 'validation', 'test']) {
  const ids = [];
  let bytes = 0;
  for (const doc of readDocs(split)) {
    ids.push(eos, ...tokenizer.encode(doc.text).ids);
    bytes += Buffer.byteLength(doc.text);
  }
  writeFileSync(join(data, `${split}.u16`), Uint16Array.from(ids));
  console.log(`${split}: ${ids.length} tokens, ${(bytes / ids.length).toFixed(2)} bytes/token`);
}

// Passkey documents of 100–2000 tokens, the key at a uniformly random depth.
let state = 12345;
const random = () => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 4294967296;
};
const trainText = readDocs('train').map((d) => d.text).join('\n');
const filler = (chars) => {
  if (random() < 0.5) return CLASSIC_FILLER.repeat(Math.ceil(chars / CLASSIC_FILLER.length)).slice(0, chars);
  const start = Math.floor(random() * (trainText.length - chars));
  return trainText.slice(start, start + chars);
};
const all = [];
const offsets = [];
for (let i = 0; i < passkeys; i++) {
  const totalChars = 300 + Math.floor(random() * 7000); // ≈ 80–2000 tokens
  const before = Math.floor(random() * totalChars);
  const doc = passkeyDocument({ key: randomPasskey(random), fillerBefore: filler(before), fillerAfter: filler(totalChars - before) });
  offsets.push(all.length);
  all.push(eos, ...tokenizer.encode(doc.text).ids);
}
offsets.push(all.length);
writeFileSync(join(data, 'passkey.u16'), Uint16Array.from(all));
writeFileSync(join(data, 'passkey.idx'), Uint32Array.from(offsets));
console.log(`passkey: ${passkeys} documents, ${all.length} tokens`);

// Held-out passkey prompts for the model card: test-split or classic filler, several lengths and depths.
const testText = readDocs('test').map((d) => d.text).join('\n');
const evalPrompts = [];
for (const tokens of [256, 512, 1024, 2048]) {
  for (const depth of [0.1, 0.5, 0.9]) {
    for (let i = 0; i < 10; i++) {
      const chars = Math.round(tokens * 3.4) - 250;
      const source = i % 2 === 0 ? CLASSIC_FILLER.repeat(Math.ceil(chars / CLASSIC_FILLER.length)) : testText.slice(Math.floor(random() * (testText.length - chars)));
      const text = source.slice(0, chars);
      const cut = Math.floor(depth * chars);
      const doc = passkeyDocument({ key: randomPasskey(random), fillerBefore: text.slice(0, cut), fillerAfter: text.slice(cut) });
      evalPrompts.push({ tokens, depth, filler: i % 2 === 0 ? 'classic' : 'text', ids: [eos, ...tokenizer.encode(doc.prompt).ids], answer: tokenizer.encode(doc.answer).ids });
    }
  }
}
writeFileSync(join(data, 'passkey-eval.json'), JSON.stringify(evalPrompts));
console.log(`passkey-eval: ${evalPrompts.length} prompts`);
