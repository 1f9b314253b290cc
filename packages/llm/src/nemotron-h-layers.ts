import type { ModelType } from './model-families.js';

/** What one Nemotron-H layer is: a single block, its mixer a Mamba-2 one, attention, an MLP, or a mixture of experts (Nemotron 3). */
export type NemotronLayerKind = 'mamba' | 'attention' | 'mlp' | 'moe';

/** hybrid_override_pattern's letters. */
const PATTERN: Record<string, NemotronLayerKind> = { M: 'mamba', '*': 'attention', '-': 'mlp', E: 'moe' };
/** layers_block_type's names: transformers 5's, then the older ones. */
const NAMES: Record<string, NemotronLayerKind> = { linear_attention: 'mamba', full_attention: 'attention', mlp: 'mlp', moe: 'moe', mamba: 'mamba', attention: 'attention' };

/**
 * Nemotron-H's layers, from `hybrid_override_pattern` (the released configs: "M-M-*-…", one letter
 * per layer) or `layers_block_type` (transformers 5; `layer_types` is its alias); undefined for
 * other families.
 */
export function nemotronLayerKinds(
  c: Record<string, unknown>,
  type: ModelType,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): NemotronLayerKind[] | undefined {
  if (type !== 'nemotron_h') return undefined;
  const list = c.layers_block_type ?? c.layer_types;
  if (Array.isArray(list)) {
    return list.map((name) => NAMES[name as string] ?? unsupported('layers_block_type', name, Object.keys(NAMES).join(', ')));
  }
  const pattern = c.hybrid_override_pattern;
  if (typeof pattern !== 'string' || pattern.length === 0) return invalid('hybrid_override_pattern', 'must give each layer\u2019s block (M, *, - or E), or layers_block_type list them');
  return [...pattern].map((letter) => PATTERN[letter] ?? unsupported('hybrid_override_pattern', letter, 'M (Mamba-2), * (attention), - (MLP), E (mixture of experts)'));
}
