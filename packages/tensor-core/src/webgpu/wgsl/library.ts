/**
 * WGSL helper functions shared by the kernels: NaN tests on bit patterns (compilers may fold
 * `x != x` away), exact f16/bf16 encoding with round-to-nearest-even (WGSL leaves the rounding of
 * f32 → f16 conversions to the implementation), and math functions accurate to a few f32 ulps where
 * WGSL's built-ins only promise absolute error bounds (tanh, sin/cos of large angles) or are
 * missing (erfc) or undefined for some inputs (pow of a negative base).
 *
 * A program includes a helper only when its code names it (see `includeLibrary`).
 */

interface Helper {
  code: string;
  deps: readonly string[];
}

const HELPERS: Record<string, Helper> = {
  f32_from_bits: {
    deps: [],
    // A function call is never a const-expression, so this may produce NaN and infinities.
    code: `fn f32_from_bits(b: u32) -> f32 { return bitcast<f32>(b); }`,
  },
  is_nan: {
    deps: [],
    code: `fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }`,
  },
  nan_f32: { deps: ['f32_from_bits'], code: `fn nan_f32() -> f32 { return f32_from_bits(0x7fc00000u); }` },
  inf_f32: { deps: ['f32_from_bits'], code: `fn inf_f32() -> f32 { return f32_from_bits(0x7f800000u); }` },
  f16_bits_to_f32: {
    deps: [],
    code: `fn f16_bits_to_f32(h: u32) -> f32 { return unpack2x16float(h & 0xffffu).x; }`,
  },
  f32_to_f16_bits: {
    deps: [],
    code: `fn f32_to_f16_bits(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  let sign = (bits >> 16u) & 0x8000u;
  let ex = (bits >> 23u) & 0xffu;
  let mant = bits & 0x7fffffu;
  if (ex == 0xffu) {
    if (mant == 0u) { return sign | 0x7c00u; }
    return sign | 0x7e00u | (mant >> 13u);
  }
  let e = i32(ex) - 112;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    let full = mant | 0x800000u;
    let shift = u32(14 - e);
    let halfway = 1u << (shift - 1u);
    let rem = full & ((1u << shift) - 1u);
    var m = full >> shift;
    if (rem > halfway || (rem == halfway && (m & 1u) == 1u)) { m = m + 1u; }
    return sign | m;
  }
  var h = (u32(e) << 10u) | (mant >> 13u);
  let rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h = h + 1u; }
  return sign | h;
}`,
  },
  bf16_bits_to_f32: { deps: [], code: `fn bf16_bits_to_f32(h: u32) -> f32 { return bitcast<f32>((h & 0xffffu) << 16u); }` },
  f32_to_bf16_bits: {
    deps: ['is_nan'],
    code: `fn f32_to_bf16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  if (is_nan(x)) { return (b >> 16u) | 0x40u; }
  return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}`,
  },
  nan_max: {
    deps: ['is_nan'],
    code: `// max/min that propagate NaN (NumPy semantics); once the left side is NaN it stays NaN.
fn nan_max(a: f32, b: f32) -> f32 { return select(a, b, is_nan(b) || (!is_nan(a) && b > a)); }`,
  },
  nan_min: {
    deps: ['is_nan'],
    code: `fn nan_min(a: f32, b: f32) -> f32 { return select(a, b, is_nan(b) || (!is_nan(a) && b < a)); }`,
  },
  tanh_acc: {
    deps: [],
    code: `// tanh with small relative error everywhere: odd Taylor series near 0, exp(-2|x|) form elsewhere
// (never inf/inf for large |x|).
fn tanh_acc(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.3) {
    let x2 = x * x;
    return x * (1.0 + x2 * (-0.33333333333 + x2 * (0.13333333333 + x2 * (-0.05396825397 + x2 * (0.02186948854 + x2 * -0.00886323552)))));
  }
  let t = exp(-2.0 * a);
  return sign(x) * (1.0 - t) / (1.0 + t);
}`,
  },
  erfc_acc: {
    deps: [],
    code: `// erfc with fractional error < 1.2e-7 everywhere (Chebyshev fit of Press et al., Numerical Recipes §6.2).
fn erfc_acc(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(2.0 - r, r, x >= 0.0);
}`,
  },
  sin_cos_acc: {
    deps: [],
    code: `// (sin x, cos x) to ~1 ulp for |x| < 1e5: Cody–Waite reduction by π/2 with a four-part constant
// whose first parts have 8 significant bits (so k·C is exact), then the minimax polynomials of
// Moshier's Cephes sinf/cosf on [-π/4, π/4].
fn sin_cos_acc(x: f32) -> vec2<f32> {
  let k = round(x * 0.636619772367581);
  var r = x - k * 1.5703125;
  r = r - k * 4.84466552734375e-4;
  r = r - k * -6.4074993133544921875e-7;
  r = r - k * 9.920935184482005e-10;
  let r2 = r * r;
  let s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
  let c = 1.0 - 0.5 * r2 + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
  let q = i32(k) & 3;
  if (q == 0) { return vec2<f32>(s, c); }
  if (q == 1) { return vec2<f32>(c, -s); }
  if (q == 2) { return vec2<f32>(-s, -c); }
  return vec2<f32>(-c, s);
}`,
  },
  pow_js: {
    deps: ['is_nan', 'nan_f32', 'inf_f32'],
    code: `// a ** b with JavaScript's rules (the CPU backend's): negative bases need integer exponents, x ** 0 = 1.
fn pow_js(a: f32, b: f32) -> f32 {
  if (is_nan(b)) { return nan_f32(); }
  if (b == 0.0) { return 1.0; }
  if (is_nan(a)) { return nan_f32(); }
  let ab = abs(a);
  let b_inf = abs(b) == inf_f32();
  if (b_inf) {
    if (ab == 1.0) { return nan_f32(); }
    return select(0.0, inf_f32(), (ab > 1.0) == (b > 0.0));
  }
  let b_int = trunc(b) == b;
  let b_odd = b_int && abs(b) < 16777216.0 && (i32(b) & 1) == 1;
  if (a < 0.0 && !b_int) { return nan_f32(); }
  var r: f32;
  if (ab == 0.0) {
    r = select(inf_f32(), 0.0, b > 0.0);
  } else if (ab == inf_f32()) {
    r = select(0.0, inf_f32(), b > 0.0);
  } else {
    r = exp2(b * log2(ab));
  }
  let negative = (bitcast<u32>(a) & 0x80000000u) != 0u;
  return select(r, -r, negative && b_odd);
}`,
  },
  order_key_f32: {
    deps: ['is_nan'],
    code: `// A u32 whose unsigned order is the numeric order of x; -0 and +0 tie, NaN ranks above +inf.
fn order_key_f32(x: f32) -> u32 {
  if (is_nan(x)) { return 0xffffffffu; }
  var b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) == 0u) { b = 0u; }
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}`,
  },
};

const NAME_PATTERN = /\b([a-z0-9_]+)\s*\(/g;

/** The helper functions `code` calls (and the ones they call), in dependency order. */
export function includeLibrary(code: string): string {
  const wanted = new Set<string>();
  const visit = (name: string): void => {
    if (wanted.has(name)) return;
    for (const dep of HELPERS[name].deps) visit(dep);
    wanted.add(name);
  };
  for (const match of code.matchAll(NAME_PATTERN)) if (match[1] in HELPERS) visit(match[1]);
  return [...wanted].map((name) => HELPERS[name].code).join('\n');
}
