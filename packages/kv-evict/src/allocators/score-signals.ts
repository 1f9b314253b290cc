/** Layer signals computed from a layer's per-head score distributions (each sums to 1). */

/** ZigZagKV's layer uncertainty: the fewest tokens whose mass reaches `mass`, averaged over heads. */
export function tokensForMass(distributions: readonly Float64Array[], mass: number): number {
  if (distributions.length === 0) return 0;
  let total = 0;
  for (const p of distributions) {
    const sorted = Float64Array.from(p).sort().reverse();
    let acc = 0;
    let k = 0;
    while (k < sorted.length && acc < mass - 1e-12) acc += sorted[k++];
    total += k;
  }
  return total / distributions.length;
}

/**
 * Attention density: 1 / (n Σ p²) ∈ (0, 1], the participation ratio over n tokens — 1 when
 * attention is spread evenly, 1/n when it sits on one token. A monotone function of the variance of
 * the scores (Σ p² = n·Var(p) + 1/n), which is how D2O tells dense layers from sparse ones.
 */
export function attentionDensity(distributions: readonly Float64Array[]): number {
  if (distributions.length === 0) return 1;
  let total = 0;
  for (const p of distributions) {
    const squares = p.reduce((s, x) => s + x * x, 0);
    total += p.length > 0 && squares > 0 ? 1 / (p.length * squares) : 1;
  }
  return total / distributions.length;
}
