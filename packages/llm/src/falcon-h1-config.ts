import type { ModelType } from './model-families.js';

/**
 * Falcon-H1's μP multipliers, each a factor on one activation (1 where the config leaves it out):
 * on the layer's normalized input before attention (`attentionIn`) and before the Mamba mixer
 * (`ssmIn`), on each branch's output (`attentionOut`, `ssmOut`), on the keys before RoPE (`key`),
 * on the MLP's gate projection before its activation (`mlpGate`) and on its output (`mlpDown`), and
 * on the five sections of the mixer's in_proj output, z, x, B, C and dt (`ssmSections`). The
 * embedding and LM-head multipliers are `embedScale` and `logitsDivisor`.
 */
export interface FalconH1Multipliers {
  attentionIn: number;
  attentionOut: number;
  ssmIn: number;
  ssmOut: number;
  key: number;
  mlpGate: number;
  mlpDown: number;
  ssmSections: [z: number, x: number, b: number, c: number, dt: number];
}

/** FalconH1Config's multipliers; undefined for other families. */
export function parseFalconH1Multipliers(
  c: Record<string, unknown>,
  type: ModelType,
  positiveNumber: (value: unknown, field: string) => number,
  invalid: (field: string, problem: string) => never,
): FalconH1Multipliers | undefined {
  if (type !== 'falcon_h1') return undefined;
  const factor = (field: string) => positiveNumber(c[field] ?? 1, field);
  const list = (field: string, length: number): number[] => {
    const value = c[field] ?? new Array(length).fill(1);
    if (!Array.isArray(value) || value.length !== length) return invalid(field, `must list ${length} positive numbers, got ${JSON.stringify(value)}`);
    return value.map((v, i) => positiveNumber(v, `${field}[${i}]`));
  };
  const [mlpGate, mlpDown] = list('mlp_multipliers', 2);
  return {
    attentionIn: factor('attention_in_multiplier'),
    attentionOut: factor('attention_out_multiplier'),
    ssmIn: factor('ssm_in_multiplier'),
    ssmOut: factor('ssm_out_multiplier'),
    key: factor('key_multiplier'),
    mlpGate,
    mlpDown,
    ssmSections: list('ssm_multipliers', 5) as FalconH1Multipliers['ssmSections'],
  };
}
