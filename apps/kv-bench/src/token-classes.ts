import type { LlamaModel } from '@kvkit/llm';
import type { MethodContext } from '@kvkit/tensor-core';

/**
 * Adds the model's special and punctuation token ids to kv-evict's method context (FastGen's
 * special/punctuation policies need them; without them "special" is only the first token). kv-evict is
 * optional: without it the contexts come back unchanged.
 */
export async function withTokenClasses(contexts: Map<string, MethodContext>, model: LlamaModel): Promise<Map<string, MethodContext>> {
  let evict: typeof import('@kvkit/kv-evict');
  try {
    evict = await import('@kvkit/kv-evict');
  } catch {
    return contexts;
  }
  const { tokenizer } = model;
  const vocabulary = Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.idToToken(id) ?? '');
  const out = new Map(contexts);
  out.set('@kvkit/kv-evict', { ...contexts.get('@kvkit/kv-evict'), tokenClasses: evict.tokenClassesFromVocabulary(vocabulary) } as MethodContext);
  return out;
}
