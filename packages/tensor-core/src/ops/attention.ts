import { InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { arange } from './creation.js';
import { assertDTypeIn, assertFloat, assertRank, assertSameDType } from './validate.js';

/** Which keys a query may see, and how scores are shaped. Shared by every attention kernel. */
export interface AttentionMask {
  /** A key is visible only when its position ≤ the query's position. Default true. */
  causal?: boolean;
  /** Sliding window: a key is visible only when queryPos − keyPos < window. */
  window?: number;
  /** Logit soft-capping: s ↦ softcap · tanh(s / softcap) (Gemma 2). */
  softcap?: number;
  /** Score scale; default 1/√headDim. */
  scale?: number;
}

export interface AttentionOptions extends AttentionMask {
  /** i32 [m]: absolute positions of the queries; default n − m … n − 1. */
  queryPositions?: Tensor;
  /** i32 [n]: absolute positions of the keys; default 0 … n − 1 (after eviction they have gaps). */
  keyPositions?: Tensor;
  /** Also return per-key attention statistics (for eviction scorers). */
  statistics?: boolean;
  /** Also return each row's log-sum-exp (`AttentionResult.lse`), to merge with attention over other keys or a sink logit. */
  returnLse?: boolean;
}

/** Per-key statistics of the attention probabilities, without materializing the m×n matrix. */
export interface AttentionStatistics {
  /** f32 [qHeads, n]: Σ over the queries of p(query → key), per query head. */
  keySum: Tensor;
  /** f32 [qHeads, n]: max over the queries of p(query → key), per query head. */
  keyMax: Tensor;
}

export interface AttentionResult {
  /** [qHeads, m, headDimV] in q's dtype. */
  output: Tensor;
  statistics?: AttentionStatistics;
  /** f32 [qHeads, m]: log Σ exp(score) over the keys each row sees; −∞ for a row that sees none (with `returnLse`). */
  lse?: Tensor;
}

export interface AttentionAttrs {
  scale: number;
  causal: boolean;
  window: number;
  softcap: number;
  statistics: boolean;
  lse: boolean;
}

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    attention: { inputs: [Tensor, Tensor, Tensor, Tensor, Tensor]; attrs: AttentionAttrs; output: AttentionResult };
  }
}

/** Validates the mask options and fills their defaults. */
export function resolveAttentionMask(mask: AttentionMask, headDim: number, where: string): Omit<AttentionAttrs, 'statistics' | 'lse'> {
  const scale = mask.scale ?? 1 / Math.sqrt(headDim);
  const window = mask.window ?? 0;
  const softcap = mask.softcap ?? 0;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new InvalidConfigError(`${where}: scale must be a positive number, got ${scale}`);
  if (!Number.isInteger(window) || window < 0) throw new InvalidConfigError(`${where}: window must be an integer >= 1 (or absent), got ${mask.window}`);
  if (!(softcap >= 0) || !Number.isFinite(softcap)) throw new InvalidConfigError(`${where}: softcap must be > 0 (or absent), got ${mask.softcap}`);
  return { scale, causal: mask.causal ?? true, window, softcap };
}

/**
 * Reference scaled-dot-product attention for one sequence with grouped-query heads:
 * q [qHeads, m, d], k [kvHeads, n, d], v [kvHeads, n, dv] → [qHeads, m, dv]. Query head h reads KV
 * head ⌊h / (qHeads / kvHeads)⌋; K/V are never repeated. A query that sees no key outputs zeros.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): AttentionResult {
  const where = 'attention';
  assertFloat(q, where, 'q');
  assertFloat(k, where, 'k');
  assertFloat(v, where, 'v');
  assertSameDType(k, v, where);
  assertRank(q, 3, where, 'q');
  assertRank(k, 3, where, 'k');
  assertRank(v, 3, where, 'v');
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n, dk] = k.shape;
  if (dk !== d || v.shape[0] !== kvHeads || v.shape[1] !== n) {
    throw new ShapeMismatchError(
      `${where}: q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)} do not fit q [H, m, d], k [Hkv, n, d], v [Hkv, n, dv]`,
      { q: q.shape, k: k.shape, v: v.shape },
    );
  }
  if (kvHeads === 0 || qHeads % kvHeads !== 0) {
    throw new ShapeMismatchError(`${where}: ${qHeads} query heads are not a multiple of ${kvHeads} KV heads`, { qHeads, kvHeads });
  }
  const mask = resolveAttentionMask(options, d, where);
  const qPos = options.queryPositions ?? arange(n - m, n, 1, { backend: q.backend });
  const kPos = options.keyPositions ?? arange(0, n, 1, { backend: q.backend });
  try {
    for (const [name, t, len] of [['queryPositions', qPos, m], ['keyPositions', kPos, n]] as const) {
      assertDTypeIn(t, ['i32'], where, name);
      if (t.rank !== 1 || t.shape[0] !== len) throw new ShapeMismatchError(`${where}: ${name} must have shape [${len}], got ${formatShape(t.shape)}`);
    }
    return runKernel('attention', [q, k, v, qPos, kPos], { ...mask, statistics: options.statistics ?? false, lse: options.returnLse ?? false });
  } finally {
    if (qPos !== options.queryPositions) qPos.dispose();
    if (kPos !== options.keyPositions) kPos.dispose();
  }
}
