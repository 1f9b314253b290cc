/** FastGen's compression policies, from cheapest to full; each includes the ones before it. */
export const FASTGEN_POLICIES = ['special', 'punctuation', 'frequency', 'local', 'full'] as const;
export type FastGenPolicy = (typeof FASTGEN_POLICIES)[number];

export interface FastGenConfig {
  /** Share of a head's prompt attention a policy must recover (FastGen's threshold T). */
  threshold: number;
  /** Local window as a share of the tokens seen (by the query, when profiling). */
  localRatio: number;
  /** Heavy hitters as a share of the tokens seen. */
  frequencyRatio: number;
  special: ReadonlySet<number>;
  punctuation: ReadonlySet<number>;
  /** The first tokens count as special tokens (BOS), whatever their ids. */
  sinks: number;
}

/**
 * The kept set of `policy` over the first `upTo` stored tokens (a query at storage index upTo − 1
 * sees them), as marks: special tokens; + punctuation; + the ⌈frequencyRatio · seen⌉ best of them by
 * accumulated attention (`byScore`: indices ranked best first); + the last ⌈localRatio · seen⌉.
 * The ratios are of the tokens `seen` so far (FastGen's sequence length), which is `upTo` on the
 * uncompressed prompt but more than the tokens held once the head has been compressed: sized by
 * what is held, the window would shrink at every decode step.
 */
export function policyMarks(policy: FastGenPolicy, upTo: number, tokenIds: Int32Array, byScore: Int32Array, config: FastGenConfig, seen = upTo): Uint8Array {
  const marks = new Uint8Array(upTo);
  if (policy === 'full') return marks.fill(1);
  const level = FASTGEN_POLICIES.indexOf(policy);
  for (let j = 0; j < upTo; j++) {
    if (j < config.sinks || config.special.has(tokenIds[j])) marks[j] = 1;
    else if (level >= 1 && config.punctuation.has(tokenIds[j])) marks[j] = 1;
  }
  if (level >= 2) {
    const heavy = Math.ceil(config.frequencyRatio * seen - 1e-9);
    let taken = 0;
    for (let r = 0; r < byScore.length && taken < heavy; r++) {
      if (byScore[r] >= upTo) continue;
      marks[byScore[r]] = 1;
      taken++;
    }
  }
  if (level >= 3) {
    const local = Math.min(upTo, Math.ceil(config.localRatio * seen - 1e-9));
    for (let j = Math.max(0, upTo - local); j < upTo; j++) marks[j] = 1;
  }
  return marks;
}

/**
 * Stored tokens by accumulated attention, best first; ties go to the OLDER token, so on a flat
 * profile "heavy hitters" do not silently turn into a second local window.
 */
export function rankTokens(scores: ArrayLike<number>): Int32Array {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  const value = (i: number): number => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  order.sort((a, b) => value(b) - value(a) || a - b);
  return Int32Array.from(order);
}
