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
  if (typeof c.model_type === 'string' && c.model_type in QWEN_VL) return qwenVlText(c, fileName);
  const wrapper = typeof c.model_type === 'string' ? MULTIMODAL[c.model_type] : undefined;
  if (!wrapper) return c;
  assertArchitecture(c, wrapper.architecture, fileName);
  const text = c.text_config ?? {};
  if (typeof text !== 'object' || text === null || Array.isArray(text)) throw new CorruptModelFileError(fileName, 'text_config must be an object');
  const outer = Object.fromEntries(['bos_token_id', 'eos_token_id', 'torch_dtype', 'dtype'].filter((key) => c[key] !== undefined).map((key) => [key, c[key]]));
  return { ...wrapper.defaults, ...(text as Record<string, unknown>), ...outer, model_type: wrapper.textType, architectures: [wrapper.textArchitecture] };
}

/** A wrapper checkpoint must name its own architecture (a text model's would be read differently). */
function assertArchitecture(c: Record<string, unknown>, architecture: string, fileName: string): void {
  const architectures = c.architectures;
  if (Array.isArray(architectures) && architectures.length > 0 && !architectures.includes(architecture)) {
    throw new UnsupportedModelError(`${fileName}: architectures = ${JSON.stringify(architectures)} is not supported; supported: ${architecture} for model_type ${c.model_type}`, {
      file: fileName,
      field: 'architectures',
      value: architectures,
    });
  }
}

/** Qwen's vision-language models, whose language model is a Qwen2. */
const QWEN_VL: Record<string, string> = { qwen2_vl: 'Qwen2VLForConditionalGeneration', qwen2_5_vl: 'Qwen2_5_VLForConditionalGeneration' };

/**
 * Qwen2-VL and Qwen2.5-VL on text: a Qwen2 (transformers 4 keeps its fields at the top, 5 in
 * `text_config`). Their multimodal rope gives each token three position ids, one per section of the
 * frequencies; text tokens have the three equal, which is the plain rope, so `mrope` reads as none.
 */
function qwenVlText(c: Record<string, unknown>, fileName: string): Record<string, unknown> {
  assertArchitecture(c, QWEN_VL[c.model_type as string], fileName);
  const text = { ...c, ...(typeof c.text_config === 'object' && c.text_config !== null ? (c.text_config as Record<string, unknown>) : {}) };
  const isMrope = (rope: Record<string, unknown>) => (rope.rope_type ?? rope.type) === 'mrope';
  const scaling = text.rope_scaling as Record<string, unknown> | null | undefined;
  const params = text.rope_parameters as Record<string, unknown> | null | undefined;
  // transformers 4: rope_scaling { type: 'mrope', mrope_section }; 5: rope_parameters { rope_type, rope_theta, mrope_section }.
  let plainParams: Record<string, unknown> | undefined;
  if (params) {
    const { mrope_section: _sections, ...rest } = params;
    plainParams = { ...rest, rope_type: isMrope(params) ? 'default' : rest.rope_type };
  }
  return {
    ...text,
    model_type: 'qwen2',
    architectures: ['Qwen2ForCausalLM'],
    rope_scaling: scaling && isMrope(scaling) ? null : scaling,
    ...(plainParams ? { rope_parameters: plainParams } : {}),
  };
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
