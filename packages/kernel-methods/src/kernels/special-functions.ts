/**
 * Special functions the Matérn family needs for a general smoothness ν: the Gamma function and the
 * modified Bessel function of the second kind K_ν.
 */

// Lanczos approximation with g = 7 and 9 coefficients (relative error ~1e-15 for real arguments).
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** Γ(x) for real x (reflection formula below 1/2). */
export function gamma(x: number): number {
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gamma(1 - x));
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return Math.sqrt(2 * Math.PI) * t ** (z + 0.5) * Math.exp(-t) * sum;
}

/**
 * Largest step of the trapezoid rule below: the integrand is analytic in a strip of half-width π/2,
 * so the error is ~exp(−π²/h). For large x the integrand is a narrow bump of width ~1/√x, so the
 * step also shrinks as 0.5/√x (error ~exp(−2π²/(h²x)) = exp(−79)).
 */
const BESSEL_STEP = 0.2;

/**
 * K_ν(x) for x > 0 from its integral representation K_ν(x) = ∫₀^∞ exp(−x·cosh t)·cosh(νt) dt, by
 * the trapezoid rule, which converges geometrically for this doubly-exponentially decaying
 * integrand (error ~exp(−π²/h) with step h). Summation stops once the terms fall below 1e-18 of
 * the running sum. Scaled form: returns e^x·K_ν(x) when `scaled` (no underflow for large x).
 */
export function besselK(nu: number, x: number, scaled = false): number {
  if (!(x > 0)) return x === 0 ? Infinity : NaN;
  const order = Math.abs(nu); // K_{−ν} = K_ν
  const shift = scaled ? x : 0;
  const step = Math.min(BESSEL_STEP, 0.5 / Math.sqrt(x));
  let sum = 0.5 * Math.exp(-x + shift);
  for (let k = 1; k < 1_000_000; k++) {
    const t = k * step;
    // exp(−x cosh t + νt)·(1 + e^{−2νt})/2, written to avoid overflow of cosh(νt) for large ν·t.
    const term = 0.5 * Math.exp(-x * Math.cosh(t) + order * t + shift) * (1 + Math.exp(-2 * order * t));
    sum += term;
    if (term < 1e-18 * sum && x * Math.cosh(t) > order * t) break;
  }
  return sum * step;
}
