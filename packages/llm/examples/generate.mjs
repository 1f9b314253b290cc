// Loads a Hugging Face model directory, generates with the default dense KV cache, plugs in another
// cache, streams tokens, and runs a batch. After `npm run build`:
//
//   node examples/generate.mjs [model-dir]
//
// Default: models/kvkit-tiny when its weights exist, else a tiny random test model (gibberish text).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { denseCache } from '@kvkit/tensor-core';
import { generate, generateBatch, loadModel } from '@kvkit/llm';

const tiny = fileURLToPath(new URL('../../../models/kvkit-tiny/', import.meta.url));
const fallback = fileURLToPath(new URL('../test/fixtures/torch-reference/llama/', import.meta.url));
const dir = process.argv[2] ?? (existsSync(`${tiny}model.safetensors`) ? tiny : fallback);

const model = await loadModel(dir);
const { modelType, numLayers, hiddenSize, numHeads, numKvHeads, headDim, vocabSize } = model.config;
console.log(`${dir}: ${modelType}, ${numLayers} layers, hidden ${hiddenSize}, ${numHeads} query / ${numKvHeads} KV heads of ${headDim}, vocab ${vocabSize}`);

// Greedy, streamed token by token.
process.stdout.write('greedy: ');
const greedy = await generate(model, 'Call me Ishmael.', { maxNewTokens: 24, onToken: (t) => process.stdout.write(t.text) });
console.log(`\n  ${greedy.generatedTokens} tokens (${greedy.stopReason}); KV cache held ${greedy.memory.bytes} bytes`);

// Sampling, with a different cache: dense f16 storage (any CacheLayerFactory plugs in the same way).
const sampled = await generate(model, 'Call me Ishmael.', { maxNewTokens: 24, temperature: 0.8, topP: 0.95, seed: 1, cache: denseCache({ dtype: 'f16' }) });
console.log(`sampled (f16 cache, ${sampled.memory.bytes} bytes): ${JSON.stringify(sampled.text)}`);

// Several requests, decoded together.
const batch = await generateBatch(model, ['The whale', 'It was the best of times', 'Whenever I find myself'], { maxNewTokens: 12 });
for (const r of batch) console.log(`batch: ${JSON.stringify(r.text)} (${r.promptTokens} + ${r.generatedTokens} tokens)`);

// Raw logits for evaluation code: the cache keeps growing across calls.
const cache = model.createCache();
const logits = model.forward(model.tokenizer.encode('Call me Ishmael.'), cache, { logits: 'last' });
console.log(`forward: logits ${JSON.stringify(logits.shape)}, next position ${model.nextPosition(cache)}`);
logits.dispose();
cache.dispose();
model.dispose();
