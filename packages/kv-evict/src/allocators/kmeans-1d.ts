/**
 * k-means on numbers (Lloyd's iterations from quantile seeds): the cluster index of each value,
 * clusters numbered by increasing centre. Deterministic; k is clamped to the distinct values.
 */
export function kmeans1d(values: readonly number[], k: number, iterations = 50): number[] {
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  const clusters = Math.max(1, Math.min(k, distinct.length));
  let centres = Array.from({ length: clusters }, (_, c) => distinct[Math.floor(((c + 0.5) * distinct.length) / clusters)]);
  let assignment = values.map(() => 0);
  for (let it = 0; it < iterations; it++) {
    const next = values.map((v) => {
      let best = 0;
      for (let c = 1; c < centres.length; c++) if (Math.abs(v - centres[c]) < Math.abs(v - centres[best])) best = c;
      return best;
    });
    const moved = next.some((c, i) => c !== assignment[i]);
    assignment = next;
    centres = centres.map((centre, c) => {
      const members = values.filter((_, i) => assignment[i] === c);
      return members.length ? members.reduce((a, b) => a + b, 0) / members.length : centre;
    });
    if (!moved && it > 0) break;
  }
  // Renumber by centre so cluster k−1 has the largest values.
  const order = centres.map((c, i) => ({ c, i })).sort((a, b) => a.c - b.c).map((x) => x.i);
  const rank = new Map(order.map((original, r) => [original, r]));
  return assignment.map((c) => rank.get(c)!);
}
