import { MODEL_FAMILIES, type ModelFamily, type ModelType } from './model-families.js';

/**
 * DeepSeek's multi-head latent attention (MLA, DeepSeek-V2 and V3): each token's keys and values
 * come from one compressed vector of `rank` channels (kv_lora_rank) and one rotated key of
 * `ropeDim` channels shared by every head; each head's queries are `nopeDim` channels scored
 * against its up-projected latent and `ropeDim` against the shared rotated key.
 */
export interface LatentAttentionConfig {
  /** q_lora_rank: queries through a down projection (q_a_proj), its RMSNorm and an up projection (q_b_proj); absent: one q_proj. */
  queryRank?: number;
  /** kv_lora_rank: the latent's channels. */
  rank: number;
  /** qk_nope_head_dim: each head's query and key channels without position. */
  nopeDim: number;
  /** qk_rope_head_dim: the rotated channels, of the queries per head and of the one shared key. */
  ropeDim: number;
  /** v_head_dim. */
  valueDim: number;
}

/** The epsilon of MLA's two latent RMSNorms (q_a_layernorm, kv_a_layernorm): the class default, whatever rms_norm_eps says. */
export const LATENT_NORM_EPS = 1e-6;

/** What MLA sets in the model's config: its shapes, and the cache's head as one shared latent head (`latentAttentionBlock`). */
export interface LatentAttentionFields {
  latentAttention: LatentAttentionConfig;
  /** The cache's head: the rotated key first, then the latent (ropeDim + rank channels). */
  headDim: number;
  numKvHeads: 1;
  rotaryDim: number;
  /** (nopeDim + ropeDim)^−½, times YaRN's mscale(factor, mscale_all_dim)² where the rope is scaled. */
  attentionScale: number;
}

/**
 * MLA's fields of a DeepSeek config, or undefined for other families. The softmax scale follows
 * DeepSeek's own code (and transformers' since #47435 for V2): 1/√(nope + rope), times
 * (0.1 · mscale_all_dim · ln factor + 1)² where rope scaling with a factor above 1 gives mscale_all_dim.
 */
export function parseLatentAttention(
  c: Record<string, unknown>,
  type: ModelType,
  positiveInt: (field: string, fallback?: number) => number,
  positiveNumber: (value: unknown, field: string) => number,
  invalid: (field: string, problem: string) => never,
): LatentAttentionFields | undefined {
  if (!(MODEL_FAMILIES[type] as ModelFamily).latentAttention) return undefined;
  const queryRank = c.q_lora_rank === null || c.q_lora_rank === undefined ? undefined : positiveInt('q_lora_rank');
  const latentAttention: LatentAttentionConfig = {
    ...(queryRank !== undefined ? { queryRank } : {}),
    rank: positiveInt('kv_lora_rank'),
    nopeDim: positiveInt('qk_nope_head_dim'),
    ropeDim: positiveInt('qk_rope_head_dim'),
    valueDim: positiveInt('v_head_dim'),
  };
  const { rank, nopeDim, ropeDim } = latentAttention;
  if (ropeDim % 2 !== 0) invalid('qk_rope_head_dim', `must be even for rotary embeddings, got ${ropeDim}`);
  return {
    latentAttention,
    headDim: ropeDim + rank,
    numKvHeads: 1,
    rotaryDim: ropeDim,
    attentionScale: (nopeDim + ropeDim) ** -0.5 * softmaxMscale(c, positiveNumber) ** 2,
  };
}

/** YaRN's mscale of the whole head where the config scales its rope and names mscale_all_dim; 1 elsewhere. */
function softmaxMscale(c: Record<string, unknown>, positiveNumber: (value: unknown, field: string) => number): number {
  const rope = (c.rope_parameters ?? c.rope_scaling) as Record<string, unknown> | null | undefined;
  if (!rope || (rope.rope_type ?? rope.type ?? 'default') === 'default' || !rope.mscale_all_dim) return 1;
  const factor = positiveNumber(rope.factor, 'rope_scaling.factor');
  const allDim = positiveNumber(rope.mscale_all_dim, 'rope_scaling.mscale_all_dim');
  return factor <= 1 ? 1 : 0.1 * allDim * Math.log(factor) + 1;
}
