import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBackend, hostView, simdThreadCount } from '@kvkit/tensor-core';
import { assertClose, relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type LlamaModel, type LoadProgress, loadModel, type ModelSource, parseSafetensors, readFloat32, serializeSafetensors } from '../src/index.js';
import { expectKvkitErrorAsync } from './helpers/errors.js';
import { filesOf, readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';

const LLAMA = join(TORCH_REFERENCE, 'llama');
const ref = readReference(LLAMA);

/** Prefill logits of the fixture prompt, checked against the PyTorch reference. */
function expectReferenceLogits(model: LlamaModel): void {
  const cache = model.createCache();
  const logits = model.forward(Int32Array.from(ref.ids), cache);
  assertClose(logits.readFloat32Sync(), rows(ref.logits, 0, ref.ids.length), 1e-5, 'logits');
  logits.dispose();
  cache.dispose();
  model.dispose();
}

const loadFails = (source: ModelSource, code: string, pattern: RegExp, options: Parameters<typeof loadModel>[1] = {}) =>
  expectKvkitErrorAsync(loadModel(source, options), code, pattern);

/** A fetch that serves the given files under /models/tiny/ (404 for anything else), recording what was asked. */
function directoryFetch(files: Record<string, Uint8Array>, requested: string[]): typeof fetch {
  // Like a browser's fetch, it refuses to run as a method of anything but the global object.
  return async function (this: unknown, input: string | URL | Request) {
    if (this !== undefined && this !== globalThis) throw new TypeError("Failed to execute 'fetch' on 'Window': Illegal invocation");
    const url = new URL(String(input));
    const name = decodeURIComponent(url.pathname.replace('/models/tiny/', ''));
    requested.push(name);
    const body = files[name];
    return body ? new Response(body) : new Response('not found', { status: 404 });
  } as typeof fetch;
}

/** The llama fixture's weights split into two shards with an index, as save_pretrained writes them. */
function shardedFiles(): Record<string, Uint8Array> {
  const files = filesOf(LLAMA);
  const file = parseSafetensors(files['model.safetensors'], 'model.safetensors');
  const names = [...file.tensors.keys()].sort();
  const shards = [names.slice(0, 10), names.slice(10)];
  const weightMap: Record<string, string> = {};
  const out: Record<string, Uint8Array> = { ...files };
  delete out['model.safetensors'];
  shards.forEach((group, i) => {
    const shardName = `model-0000${i + 1}-of-00002.safetensors`;
    const tensors: Parameters<typeof serializeSafetensors>[0] = {};
    for (const name of group) {
      const entry = file.tensors.get(name)!;
      tensors[name] = { dtype: 'F32', shape: entry.shape, data: readFloat32(file, entry) };
      weightMap[name] = shardName;
    }
    out[shardName] = serializeSafetensors(tensors);
  });
  out['model.safetensors.index.json'] = new TextEncoder().encode(JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  return out;
}

const withConfig = (files: Record<string, Uint8Array>, patch: Record<string, unknown>): Record<string, Uint8Array> => {
  const config = JSON.parse(new TextDecoder().decode(files['config.json']));
  return { ...files, 'config.json': new TextEncoder().encode(JSON.stringify({ ...config, ...patch })) };
};

describe('loadModel', () => {
  it('loads a directory, in-memory files and a URL, with the same weights', async () => {
    expectReferenceLogits(await loadModel(LLAMA));
    expectReferenceLogits(await loadModel({ files: filesOf(LLAMA) }));
    const arrayBuffers = Object.fromEntries(Object.entries(filesOf(LLAMA)).map(([k, v]) => [k, v.slice().buffer]));
    expectReferenceLogits(await loadModel({ files: arrayBuffers }, { backend: 'cpu' }));
    const requested: string[] = [];
    const model = await loadModel({ baseUrl: 'https://example.test/models/tiny', fetch: directoryFetch(filesOf(LLAMA), requested) });
    expect(requested).toContain('model.safetensors.index.json'); // looked for, 404: single file
    expect(requested).toContain('model.safetensors');
    expect(model.tokenizer.eosTokenIds).toEqual([0]);
    expectReferenceLogits(model);
  });

  it('loads a sharded checkpoint through model.safetensors.index.json', async () => {
    const files = shardedFiles();
    expectReferenceLogits(await loadModel({ files }));
    const { 'model-00002-of-00002.safetensors': _dropped, ...missingShard } = files;
    await loadFails({ files: missingShard }, 'CORRUPT_MODEL_FILE', /^model-00002-of-00002\.safetensors: missing from the given files/);
    const index = JSON.parse(new TextDecoder().decode(files['model.safetensors.index.json']));
    delete index.weight_map['model.norm.weight'];
    await loadFails(
      { files: { ...files, 'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify(index)) } },
      'CORRUPT_MODEL_FILE',
      /^model\.safetensors\.index\.json: weight_map has no entry for tensor "model\.norm\.weight" \(config\.json implies shape \[32\]\)/,
    );
  });

  it('reports its progress after each tensor, in parameters, up to every parameter the checkpoint holds (sharded too)', async () => {
    for (const files of [filesOf(LLAMA), shardedFiles()]) {
      // The total, counted from the checkpoint's own headers: every tensor in every shard.
      const shards = Object.keys(files).filter((name) => name.endsWith('.safetensors'));
      const held = shards.flatMap((name) => [...parseSafetensors(files[name], name).tensors.values()]);
      const total = held.reduce((sum, t) => sum + t.shape.reduce((a: number, b: number) => a * b, 1), 0);
      const seen: LoadProgress[] = [];
      (await loadModel({ files }, { onProgress: (p) => seen.push(p) })).dispose();
      expect(seen).toHaveLength(held.length);
      expect(seen.every((p, i) => p.totalParameters === total && (i === 0 || p.loadedParameters > seen[i - 1].loadedParameters))).toBe(true);
      expect(seen.at(-1)!.loadedParameters).toBe(total);
      expect(new Set(seen.map((p) => p.tensor)).size).toBe(held.length);
    }
    await loadFails({ files: filesOf(LLAMA) }, 'INVALID_CONFIG', /onProgress must be a function/, { onProgress: 'yes' as never });
  });

  it("splits a checkpoint's fused matrices (Phi-3's qkv_proj, gate_up_proj) into pooled matrices of their own, and names a missing one", async () => {
    const dir = join(TORCH_REFERENCE, 'phi3-fused');
    const files = filesOf(dir);
    const model = await loadModel({ files });
    const weights = model.attentionWeights(0);
    expect([weights.q.shape, weights.k.shape, weights.v.shape]).toEqual([[32, 32], [16, 32], [16, 32]]);
    const pooled = new Set([weights.q, weights.k, weights.v, weights.o].map((t) => hostView(t).buffer));
    expect(pooled.size).toBe(1); // one WeightPool for every matrix, the fused ones' parts included
    // The parts are the fused matrix's row blocks: q first, then k, then v.
    const fused = parseSafetensors(files['model.safetensors'], 'model.safetensors');
    const entry = fused.tensors.get('model.layers.0.self_attn.qkv_proj.weight')!;
    const rowsOf = readFloat32(fused, entry);
    expect(Array.from(hostView(weights.k))).toEqual(Array.from(rowsOf.subarray(32 * 32, 48 * 32)));
    expect(Array.from(hostView(weights.v))).toEqual(Array.from(rowsOf.subarray(48 * 32)));
    model.dispose();
    // The header names layer 1's gate_up_proj otherwise (one byte changed in place: the same header length).
    const renamed = files['model.safetensors'].slice();
    const at = Buffer.from(renamed.buffer).indexOf('layers.1.mlp.gate_up_proj') + 'layers.1.mlp.gate_up_pro'.length;
    renamed[at] = 'x'.charCodeAt(0);
    await loadFails({ files: { ...files, 'model.safetensors': renamed } }, 'CORRUPT_MODEL_FILE', /tensor "model\.layers\.1\.mlp\.gate_up_proj\.weight" is missing \(config\.json implies shape \[128, 32\]\)/);
  });

  // Gemma 3 4B+, Mistral Small 3.x and LFM2-VL are multimodal checkpoints; the text model is what runs.
  // LFM2-VL's language model is a hybrid (attention on layers 0 and 3 of lfm2-conv-bias, no window).
  for (const [fixture, outer, architecture, window] of [
    ['gemma3-sliding', 'gemma3', 'Gemma3ForConditionalGeneration', 4],
    ['mistral-sliding', 'mistral3', 'Mistral3ForConditionalGeneration', 4],
    ['lfm2-conv-bias', 'lfm2_vl', 'Lfm2VlForConditionalGeneration', undefined],
  ] as const) {
    it(`loads the text model out of a ${outer} checkpoint (text_config, language_model weights under either naming), ignoring the vision tower`, async () => {
      const dir = join(TORCH_REFERENCE, fixture);
      const reference = readReference(dir);
      const files = filesOf(dir);
      const { architectures: _arch, torch_dtype, eos_token_id, bos_token_id, ...text } = JSON.parse(new TextDecoder().decode(files['config.json']));
      const config = { model_type: outer, architectures: [architecture], text_config: text, vision_config: { model_type: 'siglip_vision_model' }, torch_dtype, eos_token_id, bos_token_id };
      const plain = parseSafetensors(files['model.safetensors'], 'model.safetensors');
      for (const rename of [(name: string) => `language_model.${name}`, (name: string) => name.replace(/^model\./, 'model.language_model.')]) {
        const tensors: Parameters<typeof serializeSafetensors>[0] = { 'vision_tower.vision_model.post_layernorm.weight': { dtype: 'F32', shape: [4], data: new Float32Array(4) } };
        for (const [name, entry] of plain.tensors) tensors[rename(name)] = { dtype: 'F32', shape: entry.shape, data: readFloat32(plain, entry) };
        const wrapped = { ...files, 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'model.safetensors': serializeSafetensors(tensors) };
        const model = await loadModel({ files: wrapped });
        expect(model.config.modelType).toBe(text.model_type);
        expect(model.config.slidingWindow).toBe(window);
        const cache = model.createCache();
        const logits = model.forward(Int32Array.from(reference.ids), cache);
        assertClose(logits.readFloat32Sync(), rows(reference.logits, 0, reference.ids.length), 1e-5, rename('model.x'));
        cache.dispose();
        model.dispose();
      }
      await loadFails({ files: { ...files, 'config.json': new TextEncoder().encode(JSON.stringify({ ...config, architectures: ['SomethingElse'] })) } }, 'UNSUPPORTED_MODEL', new RegExp(`supported: ${architecture}`));
    });
  }

  it('runs a Ministral checkpoint as Mistral with its window where layer_types puts it (every layer without the list)', async () => {
    const dir = join(TORCH_REFERENCE, 'mistral-sliding');
    const reference = readReference(dir);
    const files = filesOf(dir);
    const config = JSON.parse(new TextDecoder().decode(files['config.json']));
    const logitsAs = async (patch: Record<string, unknown>) => {
      const ministral = { ...config, model_type: 'ministral', architectures: ['MinistralForCausalLM'], ...patch };
      const model = await loadModel({ files: { ...files, 'config.json': new TextEncoder().encode(JSON.stringify(ministral)) } });
      const cache = model.createCache();
      try {
        return model.forward(Int32Array.from(reference.ids), cache).readFloat32Sync();
      } finally {
        cache.dispose();
        model.dispose();
      }
    };
    const want = rows(reference.logits, 0, reference.ids.length);
    assertClose(await logitsAs({}), want, 1e-5, 'ministral, no layer_types');
    assertClose(await logitsAs({ layer_types: ['sliding_attention', 'sliding_attention'] }), want, 1e-5, 'ministral, both sliding');
    // The second layer attending globally changes the logits.
    expect(relativeError(await logitsAs({ layer_types: ['sliding_attention', 'full_attention'] }), want)).toBeGreaterThan(1e-2);
  });

  it("runs Qwen2.5-VL's language model on text: transformers 4's config (fields at the top, rope_scaling mrope) and 5's (text_config, rope_parameters), either weight naming", async () => {
    const dir = join(TORCH_REFERENCE, 'qwen2-bias');
    const reference = readReference(dir);
    const files = filesOf(dir);
    const { model_type: _type, architectures: _arch, rope_theta, ...fields } = JSON.parse(new TextDecoder().decode(files['config.json']));
    const outer = { model_type: 'qwen2_5_vl', architectures: ['Qwen2_5_VLForConditionalGeneration'], vision_config: { depth: 1 } };
    const sections = [2, 3, 3]; // the frequencies of one 16-channel head split in three
    const v4 = { ...outer, ...fields, rope_theta, rope_scaling: { type: 'mrope', mrope_section: sections } };
    const v5 = { ...outer, text_config: { ...fields, rope_parameters: { rope_type: 'default', rope_theta, mrope_section: sections } } };
    const plain = parseSafetensors(files['model.safetensors'], 'model.safetensors');
    for (const [config, rename] of [
      [v4, (name: string) => name],
      [v5, (name: string) => name.replace(/^model\./, 'model.language_model.')],
    ] as const) {
      const tensors: Parameters<typeof serializeSafetensors>[0] = { 'visual.patch_embed.proj.weight': { dtype: 'F32', shape: [4], data: new Float32Array(4) } };
      for (const [name, entry] of plain.tensors) tensors[rename(name)] = { dtype: 'F32', shape: entry.shape, data: readFloat32(plain, entry) };
      const model = await loadModel({ files: { ...files, 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'model.safetensors': serializeSafetensors(tensors) } });
      expect(model.config).toMatchObject({ modelType: 'qwen2', ropeTheta: rope_theta, ropeScaling: { type: 'default' } });
      const cache = model.createCache();
      const logits = model.forward(Int32Array.from(reference.ids), cache);
      assertClose(logits.readFloat32Sync(), rows(reference.logits, 0, reference.ids.length), 1e-5, config === v4 ? 'transformers 4' : 'transformers 5');
      cache.dispose();
      model.dispose();
    }
  });

  it('keeps CPU f32 matrices in one WebAssembly weight pool (products read them in place); f16 weights stay plain arrays', async () => {
    const f32 = await loadModel(LLAMA);
    const [w0, w1] = [f32.attentionWeights(0), f32.attentionWeights(1)];
    const buffers = new Set([w0.q, w0.k, w0.v, w0.o, w1.q].map((t) => hostView(t).buffer));
    expect(buffers.size).toBe(1);
    // a WebAssembly memory's buffer: shared where the pool's products split among worker threads
    expect(hostView(w0.q).buffer).toBeInstanceOf(simdThreadCount() > 1 ? SharedArrayBuffer : ArrayBuffer);
    expect(hostView(w0.q).byteOffset % 16).toBe(0);
    expectReferenceLogits(f32);
    const f16 = await loadModel(LLAMA, { dtype: 'f16' });
    expect(hostView(f16.attentionWeights(0).q).buffer).not.toBe(hostView(f16.attentionWeights(0).k).buffer);
    f16.dispose();
  });

  it('names the missing file', async () => {
    const files = filesOf(LLAMA);
    const without = (name: string): Record<string, Uint8Array> => Object.fromEntries(Object.entries(files).filter(([k]) => k !== name));
    await loadFails({ files: without('config.json') }, 'CORRUPT_MODEL_FILE', /^config\.json: missing from the given files/);
    await loadFails({ files: without('model.safetensors') }, 'CORRUPT_MODEL_FILE', /^model\.safetensors: missing from the given files/);
    await loadFails({ files: without('tokenizer.json') }, 'CORRUPT_MODEL_FILE', /^tokenizer\.json: missing/);
    await loadFails('/nonexistent/kvkit/model', 'CORRUPT_MODEL_FILE', /^config\.json: missing from directory \/nonexistent\/kvkit\/model/);
    // Weights only: the tokenizer is not needed, and asking for it says why it is not there.
    const model = await loadModel({ files: without('tokenizer.json') }, { tokenizer: false });
    expect(model.hasTokenizer).toBe(false);
    expect(() => model.tokenizer).toThrow(/loaded without a tokenizer/);
    expectReferenceLogits(model);
  });

  it('names the file and the problem for truncated or corrupt files', async () => {
    const files = filesOf(LLAMA);
    const weights = files['model.safetensors'];
    await loadFails({ files: { ...files, 'model.safetensors': weights.subarray(0, 6) } }, 'CORRUPT_MODEL_FILE', /^model\.safetensors: truncated: 6 bytes/);
    await loadFails({ files: { ...files, 'model.safetensors': weights.subarray(0, 100) } }, 'CORRUPT_MODEL_FILE', /^model\.safetensors: truncated header/);
    await loadFails(
      { files: { ...files, 'model.safetensors': weights.subarray(0, weights.length - 10) } },
      'CORRUPT_MODEL_FILE',
      /^model\.safetensors: truncated: tensor "[^"]+" ends at data byte \d+, but the file holds only \d+ bytes/,
    );
    await loadFails({ files: { ...files, 'config.json': new TextEncoder().encode('{"model_type": "llama",') } }, 'CORRUPT_MODEL_FILE', /^config\.json: is not valid JSON/);
    await loadFails({ files: { ...files, 'tokenizer.json': new TextEncoder().encode('{"model": {"type": "Nope"}}') } }, 'CORRUPT_MODEL_FILE', /^tokenizer\.json: /);
  });

  it('reads a directory by byte ranges, with the same checks', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'kvkit-llm-'));
    try {
      const files = filesOf(LLAMA);
      const write = (weights: Uint8Array): void => {
        for (const [name, bytes] of Object.entries({ ...files, 'model.safetensors': weights })) writeFileSync(join(scratch, name), bytes);
      };
      write(files['model.safetensors']);
      expectReferenceLogits(await loadModel(scratch));
      const weights = files['model.safetensors'];
      write(weights.subarray(0, 5));
      await loadFails(scratch, 'CORRUPT_MODEL_FILE', /^model\.safetensors: truncated: 5 bytes/);
      write(weights.subarray(0, 64));
      await loadFails(scratch, 'CORRUPT_MODEL_FILE', /^model\.safetensors: truncated header/);
      write(weights.subarray(0, weights.length - 1));
      await loadFails(scratch, 'CORRUPT_MODEL_FILE', /^model\.safetensors: truncated: tensor "[^"]+" ends at data byte \d+/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('names a tensor whose shape does not match config.json, or that is missing', async () => {
    const files = filesOf(LLAMA);
    await loadFails(
      { files: withConfig(files, { intermediate_size: 48 }) },
      'CORRUPT_MODEL_FILE',
      /^model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[64, 32\], but config\.json implies \[48, 32\]/,
    );
    await loadFails({ files: withConfig(files, { num_hidden_layers: 3 }) }, 'CORRUPT_MODEL_FILE', /tensor "model\.layers\.2\.input_layernorm\.weight" is missing \(config\.json implies shape \[32\]\)/);
    await loadFails({ files: withConfig(files, { attention_bias: true }) }, 'CORRUPT_MODEL_FILE', /tensor "model\.layers\.0\.self_attn\.q_proj\.bias" is missing/);
    // A Llama checkpoint read as Qwen3 lacks the per-head norms of its queries and keys.
    await loadFails(
      { files: withConfig(files, { model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'] }) },
      'CORRUPT_MODEL_FILE',
      /tensor "model\.layers\.0\.self_attn\.q_norm\.weight" is missing \(config\.json implies shape \[8\]\)/,
    );
    await loadFails({ files: withConfig(files, { model_type: 'bloom' }) }, 'UNSUPPORTED_MODEL', /model_type "bloom" is not supported; supported: llama/);
    // Read as GPT-NeoX, the same checkpoint lacks GPT-NeoX's names.
    await loadFails(
      { files: withConfig(files, { model_type: 'gpt_neox', architectures: ['GPTNeoXForCausalLM'], hidden_act: 'gelu' }) },
      'CORRUPT_MODEL_FILE',
      /tensor "gpt_neox\.embed_in\.weight" is missing \(config\.json implies shape \[96, 32\]\)/,
    );
    await loadFails({ files: withConfig(files, { vocab_size: 90 }) }, 'INVALID_CONFIG', /tokenizer\.json has 96 tokens, more than config\.json's vocab_size 90/);
  });

  it('reads config.json with configOverrides replacing its fields (YaRN on a model whose config has none)', async () => {
    const yarn = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 };
    const model = await loadModel(LLAMA, { configOverrides: { rope_scaling: yarn } });
    expect(model.config).toMatchObject({ ropeScaling: { type: 'yarn', factor: 4, originalMaxPositionEmbeddings: 16 }, maxPositions: 64 });
    const cache = model.createCache();
    const logits = model.forward(Int32Array.from(ref.ids), cache);
    // The same weights rotated otherwise: not the reference's logits.
    expect(relativeError(logits.readFloat32Sync(), rows(ref.logits, 0, ref.ids.length))).toBeGreaterThan(1e-3);
    cache.dispose();
    model.dispose();
    await loadFails(LLAMA, 'INVALID_CONFIG', /configOverrides must be an object of config\.json fields/, { configOverrides: ['x'] as never });
    await loadFails(LLAMA, 'INVALID_CONFIG', /rope_scaling of type "yarn" needs a numeric "factor"/, { configOverrides: { rope_scaling: { rope_type: 'yarn' } } });
  });

  it('releases what it uploaded when loading fails', async () => {
    const cpu = getBackend('cpu');
    const before = cpu.bytesInUse();
    await loadFails({ files: withConfig(filesOf(LLAMA), { num_hidden_layers: 3 }) }, 'CORRUPT_MODEL_FILE', /is missing/);
    expect(cpu.bytesInUse()).toBe(before);
    const model = await loadModel(LLAMA);
    expect(cpu.bytesInUse()).toBeGreaterThanOrEqual(before + model.weightBytes);
    model.dispose();
    expect(cpu.bytesInUse()).toBe(before);
  });

  it('reports fetch failures and unknown backends clearly', async () => {
    const failing = (async () => new Response('boom', { status: 500 })) as typeof fetch;
    await loadFails({ baseUrl: 'https://example.test/m/', fetch: failing }, 'CORRUPT_MODEL_FILE', /^config\.json: fetching https:\/\/example\.test\/m\/config\.json failed with HTTP 500/);
    const offline = (async () => {
      throw new TypeError('network down');
    }) as typeof fetch;
    await loadFails({ baseUrl: 'https://example.test/m', fetch: offline }, 'CORRUPT_MODEL_FILE', /could not be fetched from https:\/\/example\.test\/m\/config\.json: network down/);
    await loadFails(LLAMA, 'BACKEND_UNAVAILABLE', /no backend named "no-such-backend"/, { backend: 'no-such-backend' });
    await loadFails(LLAMA, 'INVALID_CONFIG', /dtype must be 'f32' or 'f16'/, { dtype: 'bf16' as 'f32' });
    await loadFails(42 as unknown as ModelSource, 'INVALID_CONFIG', /model source must be/);
  });

  it('keeps the matrices of f16 and bf16 checkpoints as stored with halfWeights: half their bytes, the same logits bit for bit', async () => {
    for (const [name, dtype] of [['llama-f16', 'f16'], ['qwen2-bf16-tied', 'bf16']] as const) {
      const dir = join(TORCH_REFERENCE, name);
      const widened = await loadModel(dir);
      const half = await loadModel(dir, { halfWeights: true });
      const [w, wide] = [half.attentionWeights(0), widened.attentionWeights(0)];
      expect([w.q.dtype, w.o.dtype, wide.q.dtype]).toEqual([dtype, dtype, 'f32']);
      expect([half.dtype, half.matrixDtype, widened.matrixDtype]).toEqual(['f32', dtype, 'f32']);
      // One pool for the matrices, as with f32 ones; the norms stay f32.
      expect(new Set([w.q, w.k, w.o, half.attentionWeights(1).v].map((t) => hostView(t).buffer)).size).toBe(1);
      const matrixElements = [...parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'model.safetensors').tensors.values()]
        .filter((e) => e.shape.length === 2)
        .reduce((n, e) => n + e.shape[0] * e.shape[1], 0);
      expect(widened.weightBytes - half.weightBytes).toBe(2 * matrixElements);
      const ids = Int32Array.from({ length: 12 }, (_, i) => (i * 7 + 3) % half.config.vocabSize);
      const [c1, c2] = [half.createCache(), widened.createCache()];
      for (const chunk of [ids.subarray(0, 9), ids.subarray(9, 10), ids.subarray(10, 11)]) {
        const [a, b] = [half.forward(chunk, c1), widened.forward(chunk, c2)];
        expect(a.dtype).toBe('f32');
        expect(Array.from(a.readFloat32Sync()), `${name}: ${chunk.length} token(s)`).toEqual(Array.from(b.readFloat32Sync()));
        a.dispose();
        b.dispose();
      }
      c1.dispose();
      c2.dispose();
      half.dispose();
      widened.dispose();
    }
    await loadFails(LLAMA, 'INVALID_CONFIG', /halfWeights must be true or false/, { halfWeights: 'yes' as unknown as boolean });
  });

  it('reads weights stored in f16 and bf16 into f32', async () => {
    for (const [name, dtype] of [['llama-f16', 'F16'], ['qwen2-bf16-tied', 'BF16']]) {
      const dir = join(TORCH_REFERENCE, name);
      const file = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'model.safetensors');
      expect([...file.tensors.values()].every((e) => e.dtype === dtype)).toBe(true);
      const model = await loadModel(dir);
      expect(model.dtype).toBe('f32');
      expect(model.weightBytes).toBe([...file.tensors.values()].reduce((n, e) => n + (e.end - e.begin) * 2, 0));
      model.dispose();
    }
  });
});
