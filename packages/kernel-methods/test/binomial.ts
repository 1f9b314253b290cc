/**
 * Acceptance bands for rejection counts: over R independent repetitions of a level-α test the count
 * of rejections is Binomial(R, α). The band [lower, upper] holds with probability ≥ 1 − 2·tail, so a
 * correct test fails this check with probability below 2·tail (1e-4 by default).
 */
export function binomialBand(r: number, p: number, tail = 5e-5): { lower: number; upper: number } {
  const pmf: number[] = [];
  let logC = 0;
  for (let k = 0; k <= r; k++) {
    if (k > 0) logC += Math.log((r - k + 1) / k);
    pmf.push(Math.exp(logC + k * Math.log(p) + (r - k) * Math.log1p(-p)));
  }
  let lower = 0;
  let acc = 0;
  while (lower < r && acc + pmf[lower] < tail) acc += pmf[lower++];
  let upper = r;
  acc = 0;
  while (upper > 0 && acc + pmf[upper] < tail) acc += pmf[upper--];
  return { lower, upper };
}
