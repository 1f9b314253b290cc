import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serializeSafetensors } from '@kvkit/llm';
import { createRng } from '@kvkit/tensor-core';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const TINY_TOKENIZER_DIR = join(REPO_ROOT, 'models', 'kvkit-tiny');

/**
 * A real Hugging Face directory of a small random-weight Llama with the project's tokenizer:
 * the evaluation protocol is checked on it without waiting for (or depending on) trained weights.
 */
export function writeRandomModel(o: { layers?: number; hidden?: number; heads?: number; kvHeads?: number; context?: number; seed?: number } = {}): string {
  const { layers = 2, hidden = 64, heads = 4, kvHeads = 2, context = 512, seed = 1 } = o;
  const vocab = 4096;
  const inter = 2 * hidden;
  const headDim = hidden / heads;
  const rng = createRng(seed);
  const w = (rows: number, cols: number, std: number) => ({
    dtype: 'F32' as const,
    shape: [rows, cols],
    data: Float32Array.from({ length: rows * cols }, () => std * rng.normal()),
  });
  const ones = (n: number) => ({ dtype: 'F32' as const, shape: [n], data: new Float32Array(n).fill(1) });
  const tensors: Record<string, ReturnType<typeof w>> = { 'model.embed_tokens.weight': w(vocab, hidden, 1), 'model.norm.weight': ones(hidden) };
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    Object.assign(tensors, {
      [`${p}self_attn.q_proj.weight`]: w(heads * headDim, hidden, 0.3),
      [`${p}self_attn.k_proj.weight`]: w(kvHeads * headDim, hidden, 0.3),
      [`${p}self_attn.v_proj.weight`]: w(kvHeads * headDim, hidden, 0.3),
      [`${p}self_attn.o_proj.weight`]: w(hidden, heads * headDim, 0.1),
      [`${p}mlp.gate_proj.weight`]: w(inter, hidden, 0.1),
      [`${p}mlp.up_proj.weight`]: w(inter, hidden, 0.1),
      [`${p}mlp.down_proj.weight`]: w(hidden, inter, 0.1),
      [`${p}input_layernorm.weight`]: ones(hidden),
      [`${p}post_attention_layernorm.weight`]: ones(hidden),
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'kvbench-model-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: vocab, hidden_size: hidden, intermediate_size: inter,
      num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kvHeads, max_position_embeddings: context,
      rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, hidden_act: 'silu', bos_token_id: 0, eos_token_id: 0,
    }),
  );
  copyFileSync(join(TINY_TOKENIZER_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  copyFileSync(join(TINY_TOKENIZER_DIR, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  return dir;
}
