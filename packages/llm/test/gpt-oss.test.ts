// OpenAI gpt-oss: sliding-window and global layers in turn, a learned attention sink per head,
// biases on every projection, routed experts with a clamped SwiGLU, and (as released) experts in
// MXFP4. Its configs, the MXFP4 format, what each part changes, and what it refuses; logits
// against the PyTorch reference are checked in torch-reference-parity.test.ts (CPU),
// webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { denseCache, type KVCacheLayer, parseSafetensors, serializeSafetensors } from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModelConfig } from '../src/index.js';
import { dequantizeMxfp4 } from '../src/mxfp4.js';
import { editedCheckpoint, referenceIdLogits, zeroing } from './helpers/edited-checkpoint.js';
import { expectKvkitError, expectKvkitErrorAsync } from './helpers/errors.js';
import { filesOf, readReference, rows, TORCH_REFERENCE, withConfigPatch } from './helpers/fixtures.js';

// The fields of openai/gpt-oss-20b's config.json.
const GPT_OSS_20B = {
  architectures: ['GptOssForCausalLM'],
  attention_bias: true,
  attention_dropout: 0.0,
  eos_token_id: 200002,
  experts_per_token: 4,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2880,
  initial_context_length: 4096,
  initializer_range: 0.02,
  intermediate_size: 2880,
  layer_types: Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention')),
  max_position_embeddings: 131072,
  model_type: 'gpt_oss',
  num_attention_heads: 64,
  num_experts_per_tok: 4,
  num_hidden_layers: 24,
  num_key_value_heads: 8,
  num_local_experts: 32,
  output_router_logits: false,
  pad_token_id: 199999,
  quantization_config: { modules_to_not_convert: ['model.layers.*.self_attn', 'model.layers.*.mlp.router', 'model.embed_tokens', 'lm_head'], quant_method: 'mxfp4' },
  rms_norm_eps: 1e-5,
  rope_scaling: { beta_fast: 32.0, beta_slow: 1.0, factor: 32.0, original_max_position_embeddings: 4096, rope_type: 'yarn', truncate: false },
  rope_theta: 150000,
  router_aux_loss_coef: 0.9,
  sliding_window: 128,
  swiglu_limit: 7.0,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 201088,
};

const MXFP4_FIXTURE = join(TORCH_REFERENCE, 'gpt-oss');
const BF16_FIXTURE = join(TORCH_REFERENCE, 'gpt-oss-bf16');

describe('gpt-oss configs', () => {
  it('reads gpt-oss-20b: 64 query heads of 64 over 8 KV heads, a 128-token window on even layers, YaRN ×32 untruncated, 4 of 32 experts with the clamped SwiGLU', () => {
    const c = parseModelConfig(GPT_OSS_20B);
    expect(c).toMatchObject({ numLayers: 24, numHeads: 64, numKvHeads: 8, headDim: 64, slidingWindow: 128, attentionSinks: true, attentionBias: { q: true, k: true, v: true, o: true }, maxPositions: 131072 });
    expect(c.slidingLayers).toEqual(Array.from({ length: 12 }, (_, i) => 2 * i));
    expect(c.ropeScaling).toMatchObject({ type: 'yarn', factor: 32, originalMaxPositionEmbeddings: 4096, truncate: false });
    expect(c.moe).toMatchObject({ experts: 32, expertsPerToken: 4, expertSize: 2880, normalizeTopK: true, scoring: 'softmax', denseLayers: [], clampedSwiglu: { alpha: 1.702, limit: 7 } });
  });

  it("takes GptOssConfig's defaults for what a config leaves out: even layers sliding, YaRN ×32 from 4096, 128 experts", () => {
    const { layer_types: _types, rope_scaling: _rope, swiglu_limit: _limit, num_local_experts: _experts, ...bare } = GPT_OSS_20B;
    const c = parseModelConfig(bare);
    expect(c.slidingLayers).toEqual(Array.from({ length: 12 }, (_, i) => 2 * i));
    expect(c.ropeScaling).toMatchObject({ type: 'yarn', factor: 32, originalMaxPositionEmbeddings: 4096, truncate: false });
    expect(c.moe).toMatchObject({ experts: 128, clampedSwiglu: { alpha: 1.702, limit: 7 } });
    expect(parseModelConfig({ ...GPT_OSS_20B, sliding_window: null }).slidingWindow).toBeUndefined();
  });

  it('refuses what it cannot run, and MXFP4 on any other family, with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...GPT_OSS_20B, swiglu_limit: -1 }), 'INVALID_CONFIG', /swiglu_limit must be a positive number/);
    expectKvkitError(() => parseModelConfig({ ...GPT_OSS_20B, quantization_config: { quant_method: 'bitsandbytes' } }), 'UNSUPPORTED_MODEL', /quantization_config = "bitsandbytes"/);
    const llama = { model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 96 };
    expectKvkitError(() => parseModelConfig({ ...llama, quantization_config: { quant_method: 'mxfp4' } }), 'UNSUPPORTED_MODEL', /quantization_config = "mxfp4"/);
  });
});

describe('MXFP4', () => {
  it('decodes two codes a byte (low nibble first) times 2^(scale − 127) into bf16, as the format defines', () => {
    // One row of 32 values: codes 0…15 then 15…0; one scale, 2^(129 − 127) = 4.
    const codes = [...Array.from({ length: 16 }, (_, i) => i), ...Array.from({ length: 16 }, (_, i) => 15 - i)];
    const blocks = Uint8Array.from({ length: 16 }, (_, i) => codes[2 * i] | (codes[2 * i + 1] << 4));
    const bits = dequantizeMxfp4(blocks, Uint8Array.of(129), 1, 32, 'model.safetensors', 'x');
    const e2m1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6];
    const values = Array.from(bits, (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]);
    expect(values).toEqual(codes.map((c) => 4 * e2m1[c]));
    expect(Object.is(values[8], -0)).toBe(true);
  });

  it('refuses a NaN scale or one whose values overflow, and a block count that does not fit', () => {
    expectKvkitError(() => dequantizeMxfp4(new Uint8Array(16).fill(0x77), Uint8Array.of(255), 1, 32, 'model.safetensors', 'x'), 'CORRUPT_MODEL_FILE', /scale 255/);
    expectKvkitError(() => dequantizeMxfp4(new Uint8Array(16).fill(0x77), Uint8Array.of(254), 1, 32, 'model.safetensors', 'x'), 'CORRUPT_MODEL_FILE', /non-finite/);
    expectKvkitError(() => dequantizeMxfp4(new Uint8Array(8), Uint8Array.of(127), 1, 32, 'model.safetensors', 'x'), 'CORRUPT_MODEL_FILE', /8 block bytes/);
  });

  it('loads the released layout (MXFP4 blocks and scales) and the dequantized one (bf16, input-major) to the same experts', async () => {
    // The MXFP4 fixture's experts rewritten as transformers saves them dequantized: logits must not move.
    const files = filesOf(MXFP4_FIXTURE);
    const file = parseSafetensors(files['model.safetensors'], 'model.safetensors');
    const model = await loadModel(MXFP4_FIXTURE);
    const dequantized: Record<string, Parameters<typeof serializeSafetensors>[0][string]> = {};
    for (const [name, entry] of file.tensors) {
      const bytes = file.bytes.slice(entry.begin, entry.end);
      if (name.endsWith('_scales')) continue;
      if (!name.endsWith('_blocks')) {
        dequantized[name] = entry.dtype === 'BF16' ? { dtype: 'BF16', shape: entry.shape, data: new Uint16Array(bytes.buffer) } : { dtype: 'U8', shape: entry.shape, data: bytes };
        continue;
      }
      const scalesEntry = file.tensors.get(name.replace('_blocks', '_scales'))!;
      const [experts, rows, groups] = entry.shape;
      const cols = groups * 32;
      const decoded = dequantizeMxfp4(bytes, file.bytes.slice(scalesEntry.begin, scalesEntry.end), experts * rows, cols, 'model.safetensors', name);
      // [experts, rows (out), cols (in)] → [experts, in, out].
      const transposed = new Uint16Array(decoded.length);
      for (let e = 0; e < experts; e++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) transposed[(e * cols + c) * rows + r] = decoded[(e * rows + r) * cols + c];
      dequantized[name.replace('_blocks', '')] = { dtype: 'BF16', shape: [experts, cols, rows], data: transposed };
    }
    files['model.safetensors'] = serializeSafetensors(dequantized);
    const { quantization_config: _q, ...config } = JSON.parse(new TextDecoder().decode(files['config.json']));
    files['config.json'] = new TextEncoder().encode(JSON.stringify(config));
    const plain = await loadModel({ files });
    const ids = Int32Array.from(readReference(MXFP4_FIXTURE).ids);
    const [a, b] = [model, plain].map((m) => {
      const cache = m.createCache();
      const logits = m.forward(ids, cache).readFloat32Sync();
      cache.dispose();
      m.dispose();
      return logits;
    });
    expect(relativeError(b, a)).toBeLessThan(1e-6);
  });

  it('keeps the decoded experts as bf16 with halfWeights on the CPU: the same logits bit for bit as widened to f32', async () => {
    const [half, widened] = [await loadModel(MXFP4_FIXTURE, { halfWeights: true }), await loadModel(MXFP4_FIXTURE)];
    expect([half.expertWeights(0)?.gateUp?.dtype, widened.expertWeights(0)?.gateUp?.dtype]).toEqual(['bf16', 'f32']);
    expect(half.weightBytes).toBeLessThan(widened.weightBytes);
    const ids = Int32Array.from(readReference(MXFP4_FIXTURE).ids);
    const [c1, c2] = [half.createCache(), widened.createCache()];
    for (const chunk of [ids.subarray(0, 7), ids.subarray(7, 8), ids.subarray(8, 9)]) {
      expect(Array.from(half.forward(chunk, c1).readFloat32Sync()), `${chunk.length} token(s)`).toEqual(Array.from(widened.forward(chunk, c2).readFloat32Sync()));
    }
    for (const x of [c1, c2, half, widened]) x.dispose();
  });

  it("names the tensor when an MXFP4 expert's scales are missing or not U8", async () => {
    const files = filesOf(MXFP4_FIXTURE);
    const file = parseSafetensors(files['model.safetensors'], 'model.safetensors');
    const rewritten = (change: (name: string) => 'drop' | 'float' | 'keep') => {
      const tensors: Record<string, Parameters<typeof serializeSafetensors>[0][string]> = {};
      for (const [name, entry] of file.tensors) {
        const bytes = file.bytes.slice(entry.begin, entry.end);
        const what = change(name);
        if (what === 'drop') continue;
        if (what === 'float') tensors[name] = { dtype: 'F32', shape: entry.shape, data: Float32Array.from(bytes) };
        else tensors[name] = entry.dtype === 'BF16' ? { dtype: 'BF16', shape: entry.shape, data: new Uint16Array(bytes.buffer) } : { dtype: 'U8', shape: entry.shape, data: bytes };
      }
      return { ...files, 'model.safetensors': serializeSafetensors(tensors) };
    };
    const target = 'model.layers.1.mlp.experts.down_proj_scales';
    await expectKvkitErrorAsync(loadModel({ files: rewritten((name) => (name === target ? 'drop' : 'keep')) }), 'CORRUPT_MODEL_FILE', /down_proj_scales" is missing/);
    await expectKvkitErrorAsync(loadModel({ files: rewritten((name) => (name === target ? 'float' : 'keep')) }), 'CORRUPT_MODEL_FILE', /must be U8 MXFP4 scales, got F32/);
  });
});

describe('gpt-oss on the CPU (gpt-oss-bf16: 3 layers, 2 of 6 experts per token)', () => {
  const ref = readReference(BF16_FIXTURE);
  const differs = async (files: Record<string, Uint8Array>) => relativeError(await referenceIdLogits(BF16_FIXTURE, files), rows(ref.logits, 0, ref.ids.length));

  it('each part of the model matters: the sinks, the router and expert biases, the clamp, the window', async () => {
    // Sinks far below every score take no weight: the plain softmax.
    expect(await differs(editedCheckpoint(BF16_FIXTURE, (t) => Object.entries(t).forEach(([name, x]) => name.endsWith('.sinks') && x.data.fill(-1e4))))).toBeGreaterThan(1e-2);
    for (const suffix of ['router.bias', 'gate_up_proj_bias', 'down_proj_bias']) expect(await differs(editedCheckpoint(BF16_FIXTURE, zeroing(suffix)))).toBeGreaterThan(1e-2);
    const withConfig = (patch: Record<string, unknown>) => withConfigPatch(BF16_FIXTURE, patch);
    expect(await differs(withConfig({ swiglu_limit: 1e6 }))).toBeGreaterThan(1e-2);
    expect(await differs(withConfig({ sliding_window: null }))).toBeGreaterThan(1e-2);
  });

  it("refuses a cache whose layers give no log-sum-exp (another library's) before writing anything", async () => {
    const model = await loadModel(BF16_FIXTURE);
    // A dense layer behind an object that does not say it gives the log-sum-exp.
    class ForeignLayer {
      readonly layerIndex: number;
      readonly kvHeads: number;
      readonly headDim: number;
      readonly keyInput: KVCacheLayer['keyInput'];
      constructor(private readonly inner: KVCacheLayer) {
        [this.layerIndex, this.kvHeads, this.headDim, this.keyInput] = [inner.layerIndex, inner.kvHeads, inner.headDim, inner.keyInput];
      }
      get length() {
        return this.inner.length;
      }
      append: KVCacheLayer['append'] = (k, v, step) => this.inner.append(k, v, step);
      attend: KVCacheLayer['attend'] = (q, options) => this.inner.attend(q, options);
      memory = () => this.inner.memory();
      dispose = () => this.inner.dispose();
    }
    const dense = denseCache({ dtype: 'f32' });
    const cache = model.createCache((spec) => new ForeignLayer(dense(spec)));
    expectKvkitError(() => model.forward(Int32Array.of(1, 2, 3), cache), 'INVALID_CONFIG', /cache layer 0 \(ForeignLayer\) gives no log-sum-exp/);
    expect(cache.layers.every((layer) => layer.length === 0)).toBe(true);
    cache.dispose();
    // Every kvkit cache gives it: the dense one runs.
    const own = model.createCache(dense);
    expect(model.forward(Int32Array.of(1, 2, 3), own).shape).toEqual([3, 96]);
    own.dispose();
    model.dispose();
  });
});
