import { CorruptModelFileError, UnsupportedModelError } from '@kvkit/tensor-core';

/**
 * A config.json as the parser reads it: the text model's config of a multimodal checkpoint, and
 * each family's own names for common fields (GPT-NeoX's rotary_pct, Phi's layer_norm_eps…) under
 * the common ones, with the defaults of the family's transformers class where it has its own.
 */
export function inCommonNames(raw: Record<string, unknown>, fileName: string): Record<string, unknown> {
  return withCommonNames(textModelOf(raw, fileName));
}

/** Gemma3TextConfig's defaults for what a Gemma 3 config may leave out (the released 4B+ configs' text_config does): sizes, tied embeddings. */
const GEMMA3_TEXT_DEFAULTS = {
  vocab_size: 262_208,
  hidden_size: 2304,
  intermediate_size: 9216,
  num_hidden_layers: 26,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  tie_word_embeddings: true,
};

/** Multimodal checkpoints whose text model this runtime runs: their architecture, and the text model's type and class defaults. */
const MULTIMODAL: Record<string, { architecture: string; textType: string; textArchitecture: string; defaults: Record<string, unknown> }> = {
  gemma3: { architecture: 'Gemma3ForConditionalGeneration', textType: 'gemma3_text', textArchitecture: 'Gemma3ForCausalLM', defaults: GEMMA3_TEXT_DEFAULTS },
  mistral3: { architecture: 'Mistral3ForConditionalGeneration', textType: 'mistral', textArchitecture: 'MistralForCausalLM', defaults: {} },
};

/**
 * The config of the text model: a multimodal config's `text_config` (Gemma 3's over
 * Gemma3TextConfig's defaults; Mistral 3's as it is) with the token ids and dtype of the outer
 * config, a gemma3_text config with Gemma3TextConfig's defaults filled in, any other as it is. The
 * outer architecture is checked first.
 */
function textModelOf(c: Record<string, unknown>, fileName: string): Record<string, unknown> {
  if (c.model_type === 'gemma3_text') return { ...GEMMA3_TEXT_DEFAULTS, ...c };
  const wrapper = typeof c.model_type === 'string' ? MULTIMODAL[c.model_type] : undefined;
  if (!wrapper) return c;
  const architectures = c.architectures;
  if (Array.isArray(architectures) && architectures.length > 0 && !architectures.includes(wrapper.architecture)) {
    throw new UnsupportedModelError(`${fileName}: architectures = ${JSON.stringify(architectures)} is not supported; supported: ${wrapper.architecture} for model_type ${c.model_type}`, {
      file: fileName,
      field: 'architectures',
      value: architectures,
    });
  }
  const text = c.text_config ?? {};
  if (typeof text !== 'object' || text === null || Array.isArray(text)) throw new CorruptModelFileError(fileName, 'text_config must be an object');
  const outer = Object.fromEntries(['bos_token_id', 'eos_token_id', 'torch_dtype', 'dtype'].filter((key) => c[key] !== undefined).map((key) => [key, c[key]]));
  return { ...wrapper.defaults, ...(text as Record<string, unknown>), ...outer, model_type: wrapper.textType, architectures: [wrapper.textArchitecture] };
}

/**
 * GPT-NeoX's, Phi's, StableLM's and Cohere's config names for what the other configs call rope_theta,
 * partial_rotary_factor and rms_norm_eps (the norm's epsilon), with their classes' defaults (a
 * quarter of each head rotates in GPT-NeoX, half in Phi); other configs as they are.
 */
function withCommonNames(c: Record<string, unknown>): Record<string, unknown> {
  // PhiConfig: layer_norm_eps, half of each head rotating, the tanh GELU by default.
  if (c.model_type === 'phi') {
    return { ...c, rms_norm_eps: c.layer_norm_eps ?? 1e-5, partial_rotary_factor: c.partial_rotary_factor ?? 0.5, hidden_act: c.hidden_act ?? 'gelu_new' };
  }
  // StableLmConfig: layer_norm_eps, a quarter of each head rotating.
  if (c.model_type === 'stablelm') return { ...c, rms_norm_eps: c.layer_norm_eps ?? 1e-5, partial_rotary_factor: c.partial_rotary_factor ?? 0.25 };
  // CohereConfig: layer_norm_eps, tied embeddings by default.
  // GlmConfig: half of each head rotating.
  if (c.model_type === 'glm' || c.model_type === 'glm4') return { ...c, partial_rotary_factor: c.partial_rotary_factor ?? 0.5 };
  if (c.model_type === 'cohere' || c.model_type === 'cohere2') return { ...c, rms_norm_eps: c.layer_norm_eps ?? 1e-5, tie_word_embeddings: c.tie_word_embeddings ?? true };
  if (c.model_type !== 'gpt_neox') return c;
  return {
    ...c,
    rope_theta: c.rope_theta ?? c.rotary_emb_base ?? 10000,
    partial_rotary_factor: c.partial_rotary_factor ?? c.rotary_pct ?? 0.25,
    rms_norm_eps: c.layer_norm_eps ?? 1e-5,
    hidden_act: c.hidden_act ?? 'gelu',
  };
}
