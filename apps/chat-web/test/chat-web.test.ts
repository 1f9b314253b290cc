// The sample app end to end: its server on localhost, the built page in headless Chromium (the
// system's chromium through playwright-core; WebGPU on SwiftShader without a GPU), driven as a user
// would, and what the page generates checked against @kvkit/llm run in Node on the same model.
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM, openPage } from '@kvkit/browser-test';
import { kivi } from '@kvkit/kv-quant';
import { ChatSession, generate, type LlamaModel, loadModel } from '@kvkit/llm';
import { denseCache, type CacheLayerFactory } from '@kvkit/tensor-core';
import { TEST_DAWN_FEATURES, webgpuRequired } from '@kvkit/tensor-core/testing';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunStats } from '../src/page/protocol.js';
import { type ChatServer, startChatServer } from '../src/server.js';

const tinyDir = resolve(import.meta.dirname, '..', '..', '..', 'models', 'kvkit-tiny');
const PROMPT = 'Call me Ishmael. Some years ago';
/** A chat template for kvkit-tiny (a base model, which has none): a role marker before each turn. */
const CHAT_TEMPLATE = "{% for m in messages %}{{ '<|' + m.role + '|>\\n' + m.content + eos_token + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

/** kvkit-tiny's files (links) plus a chat_template.jinja: the model the page and Node both load. */
function modelWithChatTemplate(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-web-model-'));
  for (const name of readdirSync(tinyDir)) symlinkSync(join(tinyDir, name), join(dir, name));
  writeFileSync(join(dir, 'chat_template.jinja'), CHAT_TEMPLATE);
  return dir;
}
const modelDir = modelWithChatTemplate();
afterAll(() => rmSync(modelDir, { recursive: true, force: true }));

const available = existsSync(CHROMIUM);
if (!available) {
  const message = `${CHROMIUM} not found (install Debian's chromium package or set KVKIT_CHROMIUM)`;
  if (webgpuRequired) throw new Error(`KVKIT_REQUIRE_WEBGPU=1 but the chat-web browser suite cannot run: ${message}`);
  console.warn(`[chat-web] browser suite skipped: ${message}`);
}


/** Fills the form, clicks Generate and waits for the page to finish; the status line and stats. */
/** Elements of an f32 model's weight matrices: its bytes over 4, less the norms' (two a layer and the final one). */
const matrixElements = (m: LlamaModel) => m.weightBytes / 4 - m.config.hiddenSize * (2 * m.config.numLayers + 1);

async function runInPage(page: Page, backend: string, method: string, tokens: number, weights = 'f32', chat = false): Promise<{ status: string; state: string; stats?: RunStats; output: string }> {
  await page.setChecked('#chat', chat);
  await page.selectOption('#backend', backend);
  await page.selectOption('#dtype', weights);
  await page.fill('#method', method);
  await page.fill('#tokens', String(tokens));
  await page.fill('#temperature', '0');
  await page.click('#run');
  await page.waitForSelector('#status[data-state=done], #status[data-state=error]', { timeout: 240_000 });
  const json = await page.getAttribute('#stats', 'data-json');
  return {
    status: (await page.textContent('#status')) ?? '',
    state: (await page.getAttribute('#status', 'data-state')) ?? '',
    stats: json ? (JSON.parse(json) as RunStats) : undefined,
    output: (await page.textContent('#output')) ?? '',
  };
}

describe('chat-web server', () => {
  let server: ChatServer;
  beforeAll(async () => {
    server = await startChatServer({ modelDir });
  });
  afterAll(() => server?.close());

  it('serves the page, its two scripts and the model files, cross-origin isolated; nothing else', async () => {
    for (const path of ['', 'app.js', 'worker.js', 'model/config.json', 'model/tokenizer.json', 'model/model.safetensors', 'model/chat_template.jinja']) {
      const response = await fetch(server.url + path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('cross-origin-embedder-policy'), path).toBe('require-corp');
      expect(response.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
      await response.arrayBuffer();
    }
    for (const path of ['model/README.md', 'model/..%2Fpackage.json', 'model/eval/test.txt', 'model/%E0%A4%A', 'package.json', 'src/server.ts']) {
      expect((await fetch(server.url + path)).status, path).toBe(404);
    }
    expect((await fetch(`${server.url}model/config.json`)).status).toBe(200); // still serving after a malformed name
    expect(await (await fetch(`${server.url}model/chat_template.jinja`)).text()).toBe(CHAT_TEMPLATE);
    const tiny = await startChatServer({ modelDir: tinyDir });
    expect((await fetch(`${tiny.url}model/chat_template.jinja`)).status).toBe(404); // a base model has none: llm reads that as absent
    await tiny.close();
  });

  it('refuses a directory that is not a model', async () => {
    await expect(startChatServer({ modelDir: import.meta.dirname })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });
});

describe.skipIf(!available)('chat-web in headless Chromium', () => {
  let server: ChatServer;
  let page: Page;
  let close: () => Promise<void>;
  let model: LlamaModel;
  /** The same generation in Node: prompt, greedy, the same cache method. */
  const inNode = (cache: CacheLayerFactory, tokens: number) => generate(model, PROMPT, { maxNewTokens: tokens, cache, seed: 1 });

  beforeAll(async () => {
    server = await startChatServer({ modelDir });
    ({ page, close } = await openPage(server.url, { args: ['--enable-unsafe-webgpu', `--enable-dawn-features=${TEST_DAWN_FEATURES}`, '--disable-gpu-sandbox'] }));
    await page.waitForSelector('#status[data-state=ready]');
    await page.fill('#prompt', PROMPT);
    model = await loadModel(modelDir);
  });
  afterAll(async () => {
    await close?.();
    await server?.close();
    model?.dispose();
  });

  it('is cross-origin isolated, so the CPU backend in its worker gets SIMD threads', async () => {
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    const run = await runInPage(page, 'cpu', 'dense', 2);
    expect(run.state, run.status).toBe('done');
    expect(run.stats!.threads).toBe(Math.min(availableParallelism(), 4)); // tensor-core's default: the cores, at most 4
  });

  it("generates on the CPU backend (WebAssembly in the page's worker) the tokens @kvkit/llm gives in Node, dense f32 cache", async () => {
    const run = await runInPage(page, 'cpu', 'dense:dtype=f32', 16);
    expect(run.state, run.status).toBe('done');
    const reference = await inNode(denseCache({ dtype: 'f32' }), 16);
    expect(run.stats!.ids).toEqual(Array.from(reference.ids));
    expect(run.output).toBe(PROMPT + reference.text);
    expect(run.stats!.parts).toEqual(reference.memory.parts);
    // The page keeps the checkpoint's f16 matrices as stored (Node's model here widened them): half the bytes, the same tokens.
    expect(run.stats).toMatchObject({ weights: 'f32', matrices: 'f16', weightBytes: model.weightBytes - 2 * matrixElements(model) });
    expect(await page.textContent('#stats')).toMatch(/f32 weights \(f16 matrices as stored\)/);
  });

  it('holds the same bytes by part as Node for a 2-bit KIVI cache (codes, scales, window, reserved …)', async () => {
    const run = await runInPage(page, 'cpu', 'kivi:bits=2:residual=32', 48);
    expect(run.state, run.status).toBe('done');
    const reference = await inNode(kivi({ bits: 2, residual: 32 }), 48);
    expect(run.stats!.ids).toEqual(Array.from(reference.ids));
    expect(run.stats!.parts).toEqual(reference.memory.parts);
    expect(run.stats!.kvBytes).toBe(reference.memory.bytes);
    expect(run.stats!.parts.codes).toBeGreaterThan(0);
  });

  it('generates on WebGPU (navigator.gpu; SwiftShader here) through a KIVI cache', async () => {
    const run = await runInPage(page, 'webgpu', 'kivi:bits=4', 8);
    expect(run.state, run.status).toBe('done');
    expect(run.stats!.backend).toBe('webgpu');
    expect(run.stats!.generatedTokens).toBe(8);
    const reference = await inNode(kivi({ bits: 4 }), 8);
    expect(run.stats!.ids).toEqual(Array.from(reference.ids));
  });

  it("runs f16 weights on WebGPU, half the bytes of f32, with the tokens of Node's f16 model", async () => {
    const run = await runInPage(page, 'webgpu', 'dense', 8, 'f16');
    expect(run.state, run.status).toBe('done');
    expect(run.stats).toMatchObject({ backend: 'webgpu', weights: 'f16', generatedTokens: 8 });
    expect(await page.textContent('#stats')).toMatch(/webgpu, f16 weights/);
    const f16InNode = await loadModel(modelDir, { dtype: 'f16' });
    try {
      const reference = await generate(f16InNode, PROMPT, { maxNewTokens: 8, cache: denseCache({ dtype: 'f16' }), seed: 1 });
      expect(run.stats!.ids).toEqual(Array.from(reference.ids));
      expect(f16InNode.weightBytes * 2).toBe(model.weightBytes);
    } finally {
      f16InNode.dispose();
    }
  });

  it("sends the text as a user turn through the model's chat template, as encodeChat does in Node", async () => {
    const run = await runInPage(page, 'cpu', 'default', 12, 'f32', true);
    expect(run.state, run.status).toBe('done');
    const prompt = model.tokenizer.encodeChat([{ role: 'user', content: PROMPT }], { addGenerationPrompt: true });
    const reference = await generate(model, prompt, { maxNewTokens: 12, seed: 1 });
    expect(run.stats).toMatchObject({ promptFormat: 'chat template', promptTokens: prompt.length });
    expect(run.stats!.ids).toEqual(Array.from(reference.ids));
    expect(await page.textContent('#stats')).toMatch(/turn 1, a user turn written by the model's chat template: 0 tokens from the conversation's cache/);
    // Unchecked, the text is the prompt as is.
    const plain = await runInPage(page, 'cpu', 'default', 4);
    expect(plain.stats).toMatchObject({ promptFormat: 'text', promptTokens: model.tokenizer.encode(PROMPT).length });
  });

  it("holds a conversation: each turn reuses the conversation's cache, as ChatSession does in Node", async () => {
    await page.click('#new-conversation');
    const session = new ChatSession(model);
    const turns = ['Call me Ishmael.', 'Where is the whale?'];
    let output = '';
    for (const [i, text] of turns.entries()) {
      await page.fill('#prompt', text);
      const run = await runInPage(page, 'cpu', 'default', 10, 'f32', true);
      expect(run.state, run.status).toBe('done');
      const reply = await session.send(text, { maxNewTokens: 10, seed: 1 });
      expect(run.stats, `turn ${i + 1}`).toMatchObject({ turn: i + 1, reusedTokens: reply.reusedTokens, promptTokens: reply.promptTokens, kvBytes: reply.memory.bytes });
      expect(run.stats!.ids).toEqual(Array.from(reply.ids));
      output += `${output ? '\n\n' : ''}› ${text}\n${reply.text}`;
      expect(run.output).toBe(output);
    }
    expect(session.messages).toHaveLength(4);
    expect((await runInPage(page, 'cpu', 'default', 2, 'f32', true)).stats!.turn).toBe(3);
    // Another cache method starts a new conversation, as does the button.
    expect((await runInPage(page, 'cpu', 'dense', 2, 'f32', true)).stats).toMatchObject({ turn: 1, reusedTokens: 0 });
    await page.click('#new-conversation');
    expect(await page.textContent('#output')).toBe('');
    expect((await runInPage(page, 'cpu', 'dense', 2, 'f32', true)).stats!.turn).toBe(1);
    session.dispose();
    await page.fill('#prompt', PROMPT);
  });

  it('streams tokens while it generates on the CPU, and Stop ends the run (aborted)', async () => {
    await page.setChecked('#chat', false);
    await page.selectOption('#backend', 'cpu');
    await page.fill('#method', 'dense');
    await page.fill('#tokens', '1500');
    await page.click('#run');
    // Text appears before the run ends: the page paints between tokens, and takes the click.
    await page.waitForFunction((prompt) => (document.getElementById('output')?.textContent ?? '').length > prompt.length + 20, PROMPT, { timeout: 120_000 });
    expect(await page.getAttribute('#status', 'data-state')).toBe('busy');
    await page.click('#stop');
    await page.waitForSelector('#status[data-state=done], #status[data-state=error]', { timeout: 120_000 });
    const stats = JSON.parse((await page.getAttribute('#stats', 'data-json')) ?? '{}') as RunStats;
    expect(stats.stopReason).toBe('aborted');
    expect(stats.generatedTokens).toBeLessThan(1500);
  });

  it('reports a bad method spec as a typed error, and still runs afterwards', async () => {
    const bad = await runInPage(page, 'cpu', 'kivi:bits=5', 4);
    expect(bad.state).toBe('error');
    expect(bad.status).toMatch(/UNSUPPORTED_BIT_WIDTH|INVALID_CONFIG/);
    const unknown = await runInPage(page, 'cpu', 'nosuchmethod', 4);
    expect(unknown.status).toMatch(/unknown method "nosuchmethod"/);
    // A host-scored method on WebGPU is refused before the first step, saying where it runs.
    const hostScored = await runInPage(page, 'webgpu', 'h2o:budget=0.5', 4);
    expect(hostScored.status).toMatch(/^BACKEND_UNAVAILABLE: h2o scores tokens on the host.*Run it on the CPU backend/);
    const good = await runInPage(page, 'cpu', 'streaming:budget=8:sinks=2', 12);
    expect(good.state, good.status).toBe('done');
    // `default`: the model's own cache, the fused paged one on the CPU, as in Node.
    const modelDefault = await runInPage(page, 'cpu', 'default', 12);
    expect(modelDefault.state, modelDefault.status).toBe('done');
    const reference = await generate(model, PROMPT, { maxNewTokens: 12, seed: 1 });
    expect(modelDefault.stats!.ids).toEqual(Array.from(reference.ids));
    expect(modelDefault.stats!.parts).toEqual(reference.memory.parts);
  });
});
