/**
 * Spherical interpolation between the directions of a and b (normalized first) at t ∈ [0, 1]:
 * sin((1−t)Ω)/sin Ω · â + sin(tΩ)/sin Ω · b̂ with Ω the angle between them; a unit vector. Nearly
 * parallel inputs fall back to normalized linear interpolation; a zero input gives the other's direction.
 */
export function slerpDirection(a: ArrayLike<number>, b: ArrayLike<number>, t: number): Float64Array {
  const d = a.length;
  const na = Math.hypot(...Array.from(a));
  const nb = Math.hypot(...Array.from(b));
  const ua = Float64Array.from(a, (x) => (na > 0 ? x / na : 0));
  const ub = Float64Array.from(b, (x) => (nb > 0 ? x / nb : 0));
  if (na === 0) return ub;
  if (nb === 0) return ua;
  let dot = 0;
  for (let c = 0; c < d; c++) dot += ua[c] * ub[c];
  const omega = Math.acos(Math.min(1, Math.max(-1, dot)));
  const out = new Float64Array(d);
  if (Math.sin(omega) < 1e-6) {
    for (let c = 0; c < d; c++) out[c] = (1 - t) * ua[c] + t * ub[c];
  } else {
    const wa = Math.sin((1 - t) * omega) / Math.sin(omega);
    const wb = Math.sin(t * omega) / Math.sin(omega);
    for (let c = 0; c < d; c++) out[c] = wa * ua[c] + wb * ub[c];
  }
  const norm = Math.hypot(...Array.from(out));
  return norm > 0 ? out.map((x) => x / norm) : ua;
}

/** The angle between a and b in radians (0 when either is zero). */
export function angleBetween(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let c = 0; c < a.length; c++) {
    dot += a[c] * b[c];
    na += a[c] * a[c];
    nb += b[c] * b[c];
  }
  if (na === 0 || nb === 0) return 0;
  return Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb))));
}
