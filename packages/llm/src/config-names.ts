import { CorruptModelFileError, UnsupportedModelError } from '@kvkit/tensor-core';
import { MODEL_FAMILIES, type ModelFamily } from './model-families.js';

/**
 * A config.json as the parser reads it: a multimodal checkpoint's text model, each family's own
 * names for common fields (GPT-NeoX's rotary_pct…) under the common ones, and the defaults of the
 * family's transformers class for what it leaves out (`MODEL_FAMILIES`).
 */
export function inCommonNames(raw: Record<string, unknown>, fileName: string): Record<string, unknown> {
  const c = textModelOf(raw, fileName);
  const family = familyOf(c);
  if (!family) return c;
  const renamed = { ...c };
  for (const [own, commons] of Object.entries(family.configNames ?? {})) {
    for (const common of [commons].flat()) if (renamed[common] === undefined && c[own] !== undefined) renamed[common] = c[own];
  }
  return { ...family.configDefaults, ...renamed };
}

function familyOf(c: Record<string, unknown>): ModelFamily | undefined {
  const type = c.model_type;
  return typeof type === 'string' && Object.hasOwn(MODEL_FAMILIES, type) ? (MODEL_FAMILIES as Record<string, ModelFamily>)[type] : undefined;
}

/**
 * The config of the text model a multimodal checkpoint holds (`ModelFamily.textModel`): its
 * `text_config` with the token ids and dtype of the outer config (Qwen's VL models: see
 * `qwenVlText`); any other config as it is. The outer architecture is checked first.
 */
function textModelOf(c: Record<string, unknown>, fileName: string): Record<string, unknown> {
  const family = familyOf(c);
  if (!family?.textModel) return c;
  const architectures = c.architectures;
  if (Array.isArray(architectures) && architectures.length > 0 && !architectures.includes(family.architecture)) {
    throw new UnsupportedModelError(`${fileName}: architectures = ${JSON.stringify(architectures)} is not supported; supported: ${family.architecture} for model_type ${c.model_type}`, {
      file: fileName,
      field: 'architectures',
      value: architectures,
    });
  }
  const text = c.text_config ?? {};
  if (typeof text !== 'object' || text === null || Array.isArray(text)) throw new CorruptModelFileError(fileName, 'text_config must be an object');
  const textModel = { model_type: family.textModel, architectures: [(MODEL_FAMILIES as Record<string, ModelFamily>)[family.textModel].architecture] };
  if (family.textModel === 'qwen2') return { ...qwenVlText(c, text as Record<string, unknown>), ...textModel };
  const outer = Object.fromEntries(['bos_token_id', 'eos_token_id', 'torch_dtype', 'dtype'].filter((key) => c[key] !== undefined).map((key) => [key, c[key]]));
  return { ...(text as Record<string, unknown>), ...outer, ...textModel };
}

/**
 * Qwen2-VL and Qwen2.5-VL on text: a Qwen2 (transformers 4 keeps its fields at the top, 5 in
 * `text_config`). Their multimodal rope gives each token three position ids, one per section of the
 * frequencies; text tokens have the three equal, which is the plain rope, so `mrope` reads as none.
 */
function qwenVlText(c: Record<string, unknown>, textConfig: Record<string, unknown>): Record<string, unknown> {
  const text = { ...c, ...textConfig };
  const isMrope = (rope: Record<string, unknown>) => (rope.rope_type ?? rope.type) === 'mrope';
  const scaling = text.rope_scaling as Record<string, unknown> | null | undefined;
  const params = text.rope_parameters as Record<string, unknown> | null | undefined;
  // transformers 4: rope_scaling { type: 'mrope', mrope_section }; 5: rope_parameters { rope_type, rope_theta, mrope_section }.
  let plainParams: Record<string, unknown> | undefined;
  if (params) {
    const { mrope_section: _sections, ...rest } = params;
    plainParams = { ...rest, rope_type: isMrope(params) ? 'default' : rest.rope_type };
  }
  return { ...text, rope_scaling: scaling && isMrope(scaling) ? null : scaling, ...(plainParams ? { rope_parameters: plainParams } : {}) };
}
