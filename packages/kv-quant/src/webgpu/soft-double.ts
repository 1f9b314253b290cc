/**
 * Float64 arithmetic in WGSL, on integers, for the kernels that must match the CPU kernels bit for
 * bit. The CPU computes quantization parameters, codes and dequantized values in float64
 * (JavaScript numbers) and WGSL has no f64, so the operations the CPU performs are re-done here
 * exactly as IEEE double does them: each result correctly rounded to 53 bits (nearest, ties to
 * even), then rounded to f32/f16 (nearest, or outward for parameters). Only integer instructions
 * are used, so a GPU's float behaviour (flushed subnormals, division accuracy) cannot leak in.
 *
 * A value is `KvqF64`: class (zero, finite, infinity, NaN), sign, and for finite values a 53-bit
 * significand `m` (bit 52 set; `vec2<u32>(low, high)`) and exponent `e`: value = m · 2^e. Values
 * never come near double's subnormal or overflow range (inputs are f32, divisors at least 1/255).
 *
 * Every helper is prefixed `kvq_`, away from tensor-core's WGSL library names.
 */
export const SOFT_DOUBLE_WGSL = /* wgsl */ `
// ---- unsigned 64-bit integers as vec2<u32>(low, high) ----
fn kvq_add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.x + b.x;
  return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}
fn kvq_sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}
fn kvq_less64(a: vec2<u32>, b: vec2<u32>) -> bool { return a.y < b.y || (a.y == b.y && a.x < b.x); }
fn kvq_shl64(a: vec2<u32>, n: u32) -> vec2<u32> {
  if (n == 0u) { return a; }
  if (n >= 64u) { return vec2<u32>(0u, 0u); }
  if (n >= 32u) { return vec2<u32>(0u, a.x << (n - 32u)); }
  return vec2<u32>(a.x << n, (a.y << n) | (a.x >> (32u - n)));
}
fn kvq_shr64(a: vec2<u32>, n: u32) -> vec2<u32> {
  if (n == 0u) { return a; }
  if (n >= 64u) { return vec2<u32>(0u, 0u); }
  if (n >= 32u) { return vec2<u32>(a.y >> (n - 32u), 0u); }
  return vec2<u32>((a.x >> n) | (a.y << (32u - n)), a.y >> n);
}
// Shift right, OR-ing whatever is shifted out into bit 0 ("sticky"): rounding at two or more bits
// above bit 0 then sees the same result as with every bit kept.
fn kvq_shr64_sticky(a: vec2<u32>, n: u32) -> vec2<u32> {
  let kept = kvq_shr64(a, n);
  let back = kvq_shl64(kept, n);
  let lost = back.x != a.x || back.y != a.y;
  return vec2<u32>(kept.x | select(0u, 1u, lost), kept.y);
}
fn kvq_clz64(a: vec2<u32>) -> u32 {
  if (a.y != 0u) { return countLeadingZeros(a.y); }
  return 32u + countLeadingZeros(a.x);
}
// Nearest-even rounding of t >> 2, where bit 1 of t is the first bit dropped and bit 0 the sticky bit.
fn kvq_round_nearest(t: u32) -> u32 {
  let k = t >> 2u;
  let up = ((t >> 1u) & 1u) == 1u && ((t & 1u) == 1u || (k & 1u) == 1u);
  return k + select(0u, 1u, up);
}

// ---- float64 values ----
// The division's step count, as a variable: a constant bound gets the 80 steps unrolled, which
// makes shader compilation several times slower (seconds per pipeline on SwiftShader).
var<private> kvq_steps: u32 = 80u;
const KVQ_ZERO = 0u;
const KVQ_FINITE = 1u;
const KVQ_INF = 2u;
const KVQ_NAN = 3u;
struct KvqF64 { cls: u32, neg: u32, e: i32, m: vec2<u32> }

fn kvq_special(cls: u32, neg: u32) -> KvqF64 { return KvqF64(cls, neg, 0, vec2<u32>(0u, 0u)); }
fn kvq_is_nan(a: KvqF64) -> bool { return a.cls == KVQ_NAN; }
fn kvq_negate(a: KvqF64) -> KvqF64 { return KvqF64(a.cls, a.neg ^ 1u, a.e, a.m); }

// (−1)^neg · m · 2^e rounded to 53 bits, nearest even (m may carry a sticky bit 0).
fn kvq_round(neg: u32, e: i32, m: vec2<u32>) -> KvqF64 {
  if (m.x == 0u && m.y == 0u) { return kvq_special(KVQ_ZERO, neg); }
  let top = 63u - kvq_clz64(m);
  if (top <= 52u) { return KvqF64(KVQ_FINITE, neg, e - i32(52u - top), kvq_shl64(m, 52u - top)); }
  let s = top - 52u;
  var q = kvq_shr64(m, s);
  let rest = m.x & ((1u << s) - 1u);
  let half = 1u << (s - 1u);
  var ex = e + i32(s);
  if (rest > half || (rest == half && (q.x & 1u) == 1u)) {
    q = kvq_add64(q, vec2<u32>(1u, 0u));
    if (q.y >= 0x200000u) {
      q = kvq_shr64(q, 1u);
      ex = ex + 1;
    }
  }
  return KvqF64(KVQ_FINITE, neg, ex, q);
}

fn kvq_from_uint(n: u32) -> KvqF64 { return kvq_round(0u, 0, vec2<u32>(n, 0u)); }

// The exact value of IEEE bits with mb mantissa and eb exponent bits (f32: 23, 8; f16: 10, 5).
fn kvq_from_bits(b: u32, mb: u32, eb: u32) -> KvqF64 {
  let neg = (b >> (mb + eb)) & 1u;
  let all = (1u << eb) - 1u;
  let ex = (b >> mb) & all;
  let man = b & ((1u << mb) - 1u);
  let bias = i32((1u << (eb - 1u)) - 1u);
  if (ex == all) { return kvq_special(select(KVQ_NAN, KVQ_INF, man == 0u), neg); }
  if (ex == 0u) {
    if (man == 0u) { return kvq_special(KVQ_ZERO, neg); }
    return kvq_round(neg, 1 - bias - i32(mb), vec2<u32>(man, 0u));
  }
  return kvq_round(neg, i32(ex) - bias - i32(mb), vec2<u32>(man | (1u << mb), 0u));
}

const KVQ_NEAREST = 0u;
const KVQ_DOWN = 1u;
const KVQ_UP = 2u;

// a rounded to IEEE bits (mb, eb) towards the nearest (ties to even), −∞ (DOWN) or +∞ (UP),
// subnormals included; a zero result keeps a's sign; NaN gives the quiet NaN (f32 0x7fc00000,
// f16 0x7e00, what the CPU writes).
fn kvq_to_bits(a: KvqF64, mb: u32, eb: u32, mode: u32) -> u32 {
  let sign = a.neg << (mb + eb);
  let all = (1u << eb) - 1u;
  let inf = all << mb;
  if (a.cls == KVQ_NAN) { return inf | (1u << (mb - 1u)); }
  if (a.cls == KVQ_INF) { return sign | inf; }
  if (a.cls == KVQ_ZERO) { return sign; }
  let bias = i32((1u << (eb - 1u)) - 1u);
  let eff = max(a.e + 52, 1 - bias);
  // Rounding away from zero overflows to infinity; towards zero it stops at the largest finite value.
  let away = mode == KVQ_NEAREST || (mode == KVQ_UP && a.neg == 0u) || (mode == KVQ_DOWN && a.neg == 1u);
  let field = eff + bias - 1; // the exponent field minus one: k carries the leading bit
  if (field + 1 >= i32(all)) { return sign | select(inf - 1u, inf, away); }
  let t = kvq_shr64_sticky(a.m, u32(eff - i32(mb) - a.e - 2)).x;
  var k = t >> 2u;
  if (mode == KVQ_NEAREST) { k = kvq_round_nearest(t); } else if (away && (t & 3u) != 0u) { k = k + 1u; }
  let bits = (u32(field) << mb) + k;
  if (bits >= inf) { return sign | select(inf - 1u, inf, away); }
  return sign | bits;
}

// |a| < |b| (neither NaN).
fn kvq_mag_less(a: KvqF64, b: KvqF64) -> bool {
  if (a.cls != b.cls) { return a.cls < b.cls; }
  if (a.cls != KVQ_FINITE) { return false; }
  if (a.e != b.e) { return a.e < b.e; }
  return kvq_less64(a.m, b.m);
}

// a < b as IEEE compares: false when either is NaN, −0 == +0.
fn kvq_less(a: KvqF64, b: KvqF64) -> bool {
  if (a.cls == KVQ_NAN || b.cls == KVQ_NAN) { return false; }
  let an = a.neg == 1u && a.cls != KVQ_ZERO;
  let bn = b.neg == 1u && b.cls != KVQ_ZERO;
  if (an != bn) { return an; }
  if (an) { return kvq_mag_less(b, a); }
  return kvq_mag_less(a, b);
}

// a + b, rounded to nearest (x + (−x) = +0, −0 + −0 = −0).
fn kvq_add(a: KvqF64, b: KvqF64) -> KvqF64 {
  if (a.cls == KVQ_NAN || b.cls == KVQ_NAN) { return kvq_special(KVQ_NAN, 0u); }
  if (a.cls == KVQ_INF) {
    if (b.cls == KVQ_INF && b.neg != a.neg) { return kvq_special(KVQ_NAN, 0u); }
    return a;
  }
  if (b.cls == KVQ_INF) { return b; }
  if (a.cls == KVQ_ZERO) {
    if (b.cls == KVQ_ZERO) { return kvq_special(KVQ_ZERO, a.neg & b.neg); }
    return b;
  }
  if (b.cls == KVQ_ZERO) { return a; }
  var big = a;
  var small = b;
  if (kvq_mag_less(a, b)) {
    big = b;
    small = a;
  }
  // The larger significand at bits 62..10: ten bits below the rounding position for the sticky shift.
  let x = kvq_shl64(big.m, 10u);
  let y = kvq_shr64_sticky(kvq_shl64(small.m, 10u), u32(big.e - small.e));
  if (big.neg == small.neg) { return kvq_round(big.neg, big.e - 10, kvq_add64(x, y)); }
  let d = kvq_sub64(x, y);
  if (d.x == 0u && d.y == 0u) { return kvq_special(KVQ_ZERO, 0u); }
  return kvq_round(big.neg, big.e - 10, d);
}

// a · (−1)^neg · n · 2^e for an integer n < 2^11 (exact: at most 64 bits before rounding).
fn kvq_mul_uint(a: KvqF64, n: u32, neg: u32, e: i32) -> KvqF64 {
  let s = a.neg ^ neg;
  if (a.cls == KVQ_NAN) { return kvq_special(KVQ_NAN, 0u); }
  if (a.cls == KVQ_INF) { return kvq_special(select(KVQ_INF, KVQ_NAN, n == 0u), s); }
  if (a.cls == KVQ_ZERO || n == 0u) { return kvq_special(KVQ_ZERO, s); }
  let low = (a.m.x & 0xffffu) * n;
  let mid = (a.m.x >> 16u) * n;
  var p = kvq_add64(vec2<u32>(low, 0u), kvq_shl64(vec2<u32>(mid, 0u), 16u));
  p = kvq_add64(p, vec2<u32>(0u, a.m.y * n));
  return kvq_round(s, a.e + e, p);
}

// a / b rounded to nearest, by long division; b must have at most 24 significant bits (an f32 or
// f16 value, or a small integer), so the remainder fits in a u32.
fn kvq_div(a: KvqF64, b: KvqF64) -> KvqF64 {
  let s = a.neg ^ b.neg;
  if (a.cls == KVQ_NAN || b.cls == KVQ_NAN) { return kvq_special(KVQ_NAN, 0u); }
  if (a.cls == KVQ_INF) { return kvq_special(select(KVQ_INF, KVQ_NAN, b.cls == KVQ_INF), s); }
  if (b.cls == KVQ_INF) { return kvq_special(KVQ_ZERO, s); }
  if (b.cls == KVQ_ZERO) { return kvq_special(select(KVQ_INF, KVQ_NAN, a.cls == KVQ_ZERO), s); }
  if (a.cls == KVQ_ZERO) { return kvq_special(KVQ_ZERO, s); }
  let d = (b.m.y << 3u) | (b.m.x >> 29u); // b's 24 significant bits
  // Quotient of a's 53 bits followed by 27 zeros: 56 or 57 bits, enough for rounding.
  var r = 0u;
  var q = vec2<u32>(0u, 0u);
  for (var i = 0u; i < kvq_steps; i++) {
    var bit = 0u;
    if (i < 21u) { bit = (a.m.y >> (20u - i)) & 1u; } else if (i < 53u) { bit = (a.m.x >> (52u - i)) & 1u; }
    r = (r << 1u) | bit;
    q = kvq_shl64(q, 1u);
    if (r >= d) {
      r = r - d;
      q.x = q.x | 1u;
    }
  }
  q.x = q.x | select(0u, 1u, r != 0u);
  return kvq_round(s, a.e - 27 - (b.e + 29), q);
}

// clamp(rint(a), lo, hi), ties to even (numeric/param-dtype.ts roundHalfEven); a is not NaN.
fn kvq_rint_clamp(a: KvqF64, lo: i32, hi: i32) -> i32 {
  if (a.cls == KVQ_ZERO) { return clamp(0, lo, hi); }
  let top = a.e + 52;
  if (a.cls == KVQ_INF || top >= 30) { return select(hi, lo, a.neg == 1u); }
  if (top < -1) { return clamp(0, lo, hi); } // |a| < 1/2
  let k = i32(kvq_round_nearest(kvq_shr64_sticky(a.m, u32(-a.e - 2)).x));
  return clamp(select(k, -k, a.neg == 1u), lo, hi);
}

// The f32 bits of an f16 (exact; subnormal halves become normal floats).
fn kvq_f16_to_f32_bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let ex = (h >> 10u) & 0x1fu;
  let man = h & 0x3ffu;
  if (ex == 0x1fu) { return sign | 0x7f800000u | (man << 13u); }
  if (ex == 0u) {
    if (man == 0u) { return sign; }
    let top = 31u - countLeadingZeros(man);
    return sign | ((top + 103u) << 23u) | ((man << (23u - top)) & 0x7fffffu);
  }
  return sign | ((ex + 112u) << 23u) | (man << 13u);
}

// f32 bits ordered as the numbers are (−0 below +0), for JavaScript's Math.min / Math.max.
fn kvq_order(b: u32) -> u32 { return select(b | 0x80000000u, ~b, (b >> 31u) == 1u); }
fn kvq_is_nan_bits(b: u32) -> bool { return (b & 0x7fffffffu) > 0x7f800000u; }
`;
