/**
 * @kvkit/llm benchmark (not a test): prefill and decode tokens/s of the kvkit-tiny shape
 * (4 layers, hidden 256, 4 heads / 2 KV heads of 64, MLP 704, vocab 4096, tied embeddings) with
 * random weights, and of models/kvkit-tiny itself when its weights exist. The matmul rate of the
 * same shapes, measured in the same run, is the ceiling the model's projections can reach.
 *
 *   npm run bench -w @kvkit/llm            (--json FILE also writes the numbers;
 *                                           --model DIR measures another model directory;
 *                                           --cache dense|paged the KV cache measured, default dense;
 *                                           --dtype f32|f16 one cache dtype only; --no-random skips the random model;
 *                                           --backend cpu|webgpu|cuda where the model runs, default cpu;
 *                                           --model-dtype f32|f16 its weights and activations, default f32;
 *                                           --half-weights keeps an f16/bf16 checkpoint's matrices as stored, loadModel's halfWeights)
 *
 * On a device backend every timed call ends with its logits read back to the host (what generation
 * does), so the wall time covers the queued GPU work; CPU-time columns are then not meaningful.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pagedCache } from '@kvkit/attention-kernels';
import { type Backend, createRng, denseCache, matmul, openBackend, randomNormal, type Tensor } from '@kvkit/tensor-core';
import { type LlamaModel, loadModel, type SafetensorsInput, serializeSafetensors } from '../src/index.js';

const TINY_DIR = fileURLToPath(new URL('../../../models/kvkit-tiny/', import.meta.url));
const TINY = { hidden: 256, intermediate: 704, layers: 4, heads: 4, kvHeads: 2, vocab: 4096, context: 1024 };

/** A random-initialized model of the kvkit-tiny shape, built in memory as an HF directory. */
async function randomTinyModel(backend: Backend): Promise<LlamaModel> {
  const rng = createRng(7);
  const { hidden: d, intermediate: ff, layers, heads, kvHeads, vocab, context } = TINY;
  const headDim = d / heads;
  const tensors: Record<string, SafetensorsInput> = {};
  const matrix = (name: string, rows: number, cols: number, std: number): void => {
    tensors[name] = { dtype: 'F32', shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, () => rng.normal() * std) };
  };
  const ones = (name: string): void => {
    tensors[name] = { dtype: 'F32', shape: [d], data: new Float32Array(d).fill(1) };
  };
  matrix('model.embed_tokens.weight', vocab, d, 1);
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    ones(`${p}.input_layernorm.weight`);
    ones(`${p}.post_attention_layernorm.weight`);
    matrix(`${p}.self_attn.q_proj.weight`, heads * headDim, d, d ** -0.5);
    matrix(`${p}.self_attn.k_proj.weight`, kvHeads * headDim, d, d ** -0.5);
    matrix(`${p}.self_attn.v_proj.weight`, kvHeads * headDim, d, d ** -0.5);
    matrix(`${p}.self_attn.o_proj.weight`, d, heads * headDim, d ** -0.5);
    matrix(`${p}.mlp.gate_proj.weight`, ff, d, d ** -0.5);
    matrix(`${p}.mlp.up_proj.weight`, ff, d, d ** -0.5);
    matrix(`${p}.mlp.down_proj.weight`, d, ff, ff ** -0.5);
  }
  ones('model.norm.weight');
  const config = {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    hidden_size: d,
    intermediate_size: ff,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    vocab_size: vocab,
    max_position_embeddings: context,
    rope_theta: 10000,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
  };
  return loadModel(
    { files: { 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'model.safetensors': serializeSafetensors(tensors) } },
    { tokenizer: false, backend, dtype: modelDtype },
  );
}

/** Multiply-adds of one token through the projections, the MLP and the LM head. */
function matmulFlopsPerToken(model: LlamaModel): number {
  const { hiddenSize: d, intermediateSize: ff, numHeads, numKvHeads, headDim, numLayers, vocabSize } = model.config;
  const perLayer = d * numHeads * headDim * 2 + d * numKvHeads * headDim * 2 + 3 * d * ff;
  return 2 * (numLayers * perLayer + d * vocabSize);
}

interface Row {
  model: string;
  cache: string;
  phase: string;
  context: number;
  /** From the median wall time of the repetitions. */
  tokensPerSec: number;
  msPerToken: number;
  /** This process's CPU time per token (user + system): what a busy shared machine distorts least. */
  cpuMsPerToken: number;
  /** Matmul FLOPs per second: of CPU time on the CPU backend, of wall time on a device. */
  gflops: number;
}

/** Wall and process CPU milliseconds of each call of `run`. */
async function measure(reps: number, run: (rep: number) => void | Promise<void>): Promise<{ wall: number[]; cpu: number[] }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run(rep);
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall, cpu };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function row(model: string, cache: string, phase: string, context: number, tokensPerRun: number, flopsPerToken: number, runs: { wall: number[]; cpu: number[] }): Row {
  const ms = median(runs.wall) / tokensPerRun;
  return {
    model,
    cache,
    phase,
    context,
    tokensPerSec: 1000 / ms,
    msPerToken: ms,
    cpuMsPerToken: median(runs.cpu) / tokensPerRun,
    gflops: flopsPerToken / ((onDevice ? median(runs.wall) : median(runs.cpu)) / tokensPerRun) / 1e6,
  };
}

const backendName = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : 'cpu';
const backend = await openBackend(backendName);
const onDevice = backend.name !== 'cpu';
const dtypeArg = process.argv.includes('--model-dtype') ? process.argv[process.argv.indexOf('--model-dtype') + 1] : 'f32';
if (dtypeArg !== 'f32' && dtypeArg !== 'f16') throw new Error(`--model-dtype must be f32 or f16, got ${dtypeArg}`);
const modelDtype: 'f32' | 'f16' = dtypeArg;
const halfWeights = process.argv.includes('--half-weights');

/** The KV cache measured: tensor-core's dense cache or attention-kernels' paged cache (the model's default). */
const cacheKind = process.argv.includes('--cache') ? process.argv[process.argv.indexOf('--cache') + 1] : 'dense';
if (cacheKind !== 'dense' && cacheKind !== 'paged') throw new Error(`--cache must be dense or paged, got ${cacheKind}`);
const cacheOf = (dtype: 'f32' | 'f16') => (cacheKind === 'paged' ? pagedCache({ dtype }) : denseCache({ dtype }));

/** Reads logits back (asynchronously on a device, so the queued work is included) and frees them. */
async function finish(logits: Tensor): Promise<void> {
  await logits.readFloat32();
  logits.dispose();
}

async function benchModel(label: string, model: LlamaModel, rows: Row[]): Promise<void> {
  const rng = createRng(11);
  const ids = (n: number) => Int32Array.from({ length: n }, () => 1 + rng.int(model.config.vocabSize - 1));
  const flopsPerToken = matmulFlopsPerToken(model);
  const only = process.argv.includes('--dtype') ? process.argv[process.argv.indexOf('--dtype') + 1] : undefined;
  for (const cacheDtype of (['f32', 'f16'] as const).filter((d) => only === undefined || d === only)) {
    const method = cacheOf(cacheDtype);
    // Prefill: one forward pass over the prompt (logits of the last token only).
    for (const n of [128, 512, 1000]) {
      const runs = await measure(3, async () => {
        const cache = model.createCache(method);
        await finish(model.forward(ids(n), cache, { logits: 'last' }));
        cache.dispose();
      });
      rows.push(row(label, cacheDtype, 'prefill', n, n, flopsPerToken, runs));
    }
    // Decode: one token at a time after a prefill, logits read back as generation does.
    for (const context of [128, 1000]) {
      const cache = model.createCache(method);
      await finish(model.forward(ids(context - 24), cache, { logits: 'last' }));
      const runs = await measure(24, () => finish(model.forward(ids(1), cache, { logits: 'last' })));
      cache.dispose();
      rows.push(row(label, cacheDtype, 'decode', context, 1, flopsPerToken, { wall: runs.wall.slice(4), cpu: runs.cpu.slice(4) }));
    }
  }
  // Batched decode: 8 requests of 128 tokens each, one forward pass per step, in the --dtype cache (f32 by default).
  const batch = 8;
  const batchDtype = only === 'f16' ? 'f16' : 'f32';
  const caches = Array.from({ length: batch }, () => model.createCache(cacheOf(batchDtype)));
  for (const cache of caches) await finish(model.forward(ids(120), cache, { logits: 'last' }));
  const runs = await measure(8, () => finish(model.forwardBatch(caches.map((cache) => ({ ids: ids(1), cache })), { logits: 'last' })));
  for (const cache of caches) cache.dispose();
  rows.push(row(label, batchDtype, `decode, batch of ${batch}`, 128, batch, flopsPerToken, { wall: runs.wall.slice(2), cpu: runs.cpu.slice(2) }));
}

/** GFLOP/s of the CPU matmul on the model's own projection shapes: the ceiling for the layers. */
function matmulCeiling(): { decode: number; prefill: number } {
  const rng = createRng(3);
  const rate = (m: number): number => {
    const a = randomNormal([m, TINY.hidden], rng);
    const b = randomNormal([TINY.intermediate, TINY.hidden], rng);
    // As the model computes it: one row as W · xᵀ, several as X · Wᵀ.
    const run = () => (m === 1 ? matmul(b, a, { transposeB: true }) : matmul(a, b, { transposeB: true })).dispose();
    run();
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    let reps = 0;
    while (performance.now() - start < 500) {
      run();
      reps++;
    }
    const cpu = process.cpuUsage(cpu0);
    const seconds = (cpu.user + cpu.system) / 1e6 / reps; // CPU time: a shared machine distorts it least
    a.dispose();
    b.dispose();
    return (2 * m * TINY.hidden * TINY.intermediate) / seconds / 1e9;
  };
  return { decode: rate(1), prefill: rate(512) };
}

async function main(): Promise<void> {
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
  console.log(`machine: ${machine}\nbackend: ${backend.name}, model dtype ${modelDtype}\ndate: ${new Date().toISOString().slice(0, 10)}`);
  // The CPU matmul ceiling; a device's ceilings come from tooling/gpu/cuda-check.sh / webgpu-check.sh.
  const ceiling = onDevice ? undefined : matmulCeiling();
  if (ceiling) console.log(`matmul ceiling (tensor-core CPU, f32, per CPU second): (704×256)·(1×256)ᵀ ${ceiling.decode.toFixed(2)} GFLOP/s, 512×256·(704×256)ᵀ ${ceiling.prefill.toFixed(2)} GFLOP/s`);
  const rows: Row[] = [];
  if (!process.argv.includes('--no-random')) {
    const random = await randomTinyModel(backend);
    console.log(`random kvkit-tiny shape: ${(random.weightBytes / 2 ** 20).toFixed(1)} MiB of f32 weights, ${(matmulFlopsPerToken(random) / 1e6).toFixed(1)} MFLOP per token in matmuls`);
    await benchModel('random (kvkit-tiny shape)', random, rows);
    random.dispose();
  }
  const modelAt = process.argv.indexOf('--model');
  const realDir = modelAt > 0 ? process.argv[modelAt + 1] : TINY_DIR;
  if (existsSync(join(realDir, 'model.safetensors')) || existsSync(join(realDir, 'model.safetensors.index.json'))) {
    const real = await loadModel(realDir, { backend, dtype: modelDtype, halfWeights });
    await benchModel(`${modelAt > 0 ? realDir : 'models/kvkit-tiny'}${halfWeights ? ' (matrices as stored)' : ''}`, real, rows);
    real.dispose();
  } else {
    console.log(`${realDir} has no weights: only the random model was measured`);
  }
  console.log(`\n| model | KV cache | phase | context | tokens/s | ms/token (wall) | ms/token (CPU) | matmul GFLOP/s (${onDevice ? 'wall' : 'CPU'} time) |`);
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const cells = [r.model, `${cacheKind} ${r.cache}`, r.phase, r.context, r.tokensPerSec.toFixed(0), r.msPerToken.toFixed(2), r.cpuMsPerToken.toFixed(2), r.gflops.toFixed(2)];
    console.log(`| ${cells.join(' | ')} |`);
  }
  const jsonAt = process.argv.indexOf('--json');
  if (jsonAt > 0) writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ machine, backend: backend.name, modelDtype, ceiling, rows }, null, 2));
}

await main();
// A device backend holds its device (and Node open) until disposed.
if (onDevice) backend.dispose();
