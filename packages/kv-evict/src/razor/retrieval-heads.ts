import { InvalidConfigError } from '@kvkit/tensor-core';
import { numberInRange } from '../budget.js';

/**
 * Echo and induction scores per (layer, KV head). On a sequence where token t appeared before at j,
 * the echo score is the attention the query at t pays to j (the same token), the induction score the
 * attention it pays to j + 1 (the token that followed it) — what retrieval heads do (Tang et al., 2024).
 */
export interface RetrievalHeadProfile {
  echo: number[][];
  induction: number[][];
}

export interface RetrievalShares {
  /** Share of all heads kept as echo heads (default 0.01; at least one head when the share is > 0). */
  echoShare?: number;
  /** Share of all heads kept as induction heads (default 0.14). */
  inductionShare?: number;
}

/**
 * RazorAttention's choice: the top `echoShare` of heads by echo score and the top `inductionShare`
 * by induction score, across the whole model (ceil, so a tiny model keeps at least one of each when
 * the share is positive). Heads scoring 0 are never chosen. Returns [layer][kvHead].
 */
export function selectRetrievalHeads(profile: RetrievalHeadProfile, shares: RetrievalShares = {}): boolean[][] {
  const echoShare = numberInRange(shares.echoShare ?? 0.01, 0, 1, 'razor', 'echoShare');
  const inductionShare = numberInRange(shares.inductionShare ?? 0.14, 0, 1, 'razor', 'inductionShare');
  const layers = profile.echo.length;
  if (profile.induction.length !== layers || profile.echo.some((row, l) => row.length !== profile.induction[l].length)) {
    throw new InvalidConfigError('razor: the echo and induction profiles must have the same layers and heads');
  }
  const chosen = profile.echo.map((row) => row.map(() => false));
  const heads = profile.echo.flatMap((row, l) => row.map((_, h) => ({ l, h })));
  for (const [scores, share] of [
    [profile.echo, echoShare],
    [profile.induction, inductionShare],
  ] as const) {
    const take = Math.ceil(share * heads.length - 1e-9);
    const ranked = [...heads].filter(({ l, h }) => scores[l][h] > 0).sort((a, b) => scores[b.l][b.h] - scores[a.l][a.h]);
    for (const { l, h } of ranked.slice(0, take)) chosen[l][h] = true;
  }
  return chosen;
}

/**
 * Echo and induction scores of one head from per-row probabilities: `rows` [m, n] are the attention
 * of the queries at storage indices `queryIndex[i]` over the n stored tokens with `tokenIds`.
 * Each query whose token appeared before contributes p(previous occurrence) to echo and
 * p(the token after it) to induction (when that token precedes the query); means over those queries.
 */
export function echoInduction(rows: Float64Array, m: number, n: number, queryIndex: ArrayLike<number>, tokenIds: Int32Array): { echo: number; induction: number } {
  const last = new Map<number, number>();
  let next = 0; // tokens before the first query are registered lazily, in order
  let echo = 0;
  let induction = 0;
  let counted = 0;
  for (let i = 0; i < m; i++) {
    const at = queryIndex[i];
    for (; next < at; next++) last.set(tokenIds[next], next);
    const previous = last.get(tokenIds[at]);
    if (previous !== undefined && tokenIds[at] >= 0) {
      echo += rows[i * n + previous];
      if (previous + 1 < at) induction += rows[i * n + previous + 1];
      counted++;
    }
  }
  return counted > 0 ? { echo: echo / counted, induction: induction / counted } : { echo: 0, induction: 0 };
}
