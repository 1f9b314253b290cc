import type { ModelType } from './model-families.js';

/**
 * What a config.json's `quantization_config` asks of the loader, which dequantizes every quantized
 * tensor at load: gpt-oss's MXFP4 experts (their `_blocks` / `_scales` tensors say where), or block
 * FP8 (`fp8`: e4m3 weights beside a `weight_scale_inv` per block of `weight_block_size`, the format
 * of DeepSeek-V3's, Kimi K2's and Qwen3's FP8 releases). Anything else is refused.
 */
export function parseQuantization(
  c: Record<string, unknown>,
  type: ModelType,
  unsupported: (field: string, value: unknown, supported: string) => never,
  invalid: (field: string, problem: string) => never,
): { fp8WeightBlocks?: [number, number] } {
  const q = c.quantization_config;
  if (q === undefined || q === null) return {};
  const supported = "unquantized f32, f16 or bf16 checkpoints, block FP8 (quant_method fp8 with weight_block_size) and gpt-oss's MXFP4 experts";
  if (typeof q !== 'object' || Array.isArray(q)) return invalid('quantization_config', `must be an object, got ${JSON.stringify(q)}`);
  const { quant_method: method, fmt, activation_scheme: activations, weight_block_size: blocks } = q as Record<string, unknown>;
  if (type === 'gpt_oss' && method === 'mxfp4') return {};
  if (method !== 'fp8') return unsupported('quantization_config', method ?? q, supported);
  if (fmt !== undefined && fmt !== 'e4m3') unsupported('quantization_config.fmt', fmt, 'e4m3');
  // Weights are dequantized at load: activations stay in the model's dtype (transformers' `dequantize`), which only a dynamic scheme allows.
  if (activations !== undefined && activations !== 'dynamic') unsupported('quantization_config.activation_scheme', activations, 'dynamic');
  if (blocks === undefined || blocks === null) unsupported('quantization_config.weight_block_size', blocks ?? null, '[rows, cols]: one scale per block');
  if (!Array.isArray(blocks) || blocks.length !== 2 || !blocks.every((b) => Number.isSafeInteger(b) && b > 0)) {
    invalid('quantization_config', `weight_block_size must be two positive integers, got ${JSON.stringify(blocks)}`);
  }
  return { fp8WeightBlocks: [blocks[0], blocks[1]] };
}
