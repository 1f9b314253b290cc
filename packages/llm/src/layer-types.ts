/**
 * A config's `layer_types` list read against the kinds a family knows (named in that order in
 * messages): one entry per layer, each one of `kinds`; an unknown kind or a wrong length is a
 * typed error naming the field.
 */
export function readLayerTypes(
  list: readonly unknown[],
  numLayers: number,
  kinds: readonly string[],
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): string[] {
  for (const kind of new Set(list)) if (!kinds.includes(kind as string)) unsupported('layer_types', kind, kinds.join(', '));
  if (list.length !== numLayers) invalid('layer_types', `must list ${kinds.join(' or ')} for each of the ${numLayers} layers`);
  return list as string[];
}

/** A hybrid's layers must include one that attends: the KV cache has one layer per attention layer. */
export function requireAttentionLayer(attends: readonly boolean[], field: string, invalid: (field: string, problem: string) => never): void {
  if (!attends.includes(true)) invalid(field, 'must give at least one attention layer (the KV cache needs one)');
}
