/**
 * f32 shortcuts for the per-value work of the quantize kernels, taken only where they provably
 * give the CPU's result; everything else goes through the exact float64 emulation (soft-double.ts).
 *
 * A code is rint of a quotient (uniform) or the nearest point of the FP8 grid; it can only differ
 * between two computations of the quotient if a rounding boundary (a half-integer, a midpoint of
 * the grid) lies between them. With operands of magnitude 2^−100…2^100 (no subnormal, no
 * overflow in f32), the f32 quotient is within 2^−21 relative of the exact one (subtraction
 * correctly rounded, division within 2.5 ulp — WGSL's guarantees) and float64's within 2^−52.
 * So when the f32 quotient is farther than 2^−16 (relative, plus an absolute 2^−16) from every
 * boundary, both round the same way and the shortcut's code is the CPU's. Otherwise — and for
 * zeros, subnormals, infinities and NaN — the callers take the exact path (-1 / 0xffffffff here).
 */
export const FAST_PATH_WGSL = /* wgsl */ `
// True when f32 bits b are ±0 or of magnitude 2^−100 … 2^100 (biased exponent 27 … 227).
fn kvq_tame(b: u32, zero_ok: bool) -> bool {
  let ex = (b >> 23u) & 0xffu;
  return (zero_ok && (b & 0x7fffffffu) == 0u) || (ex >= 27u && ex <= 227u);
}

// rint(q) from the f32 quotient q, or -2147483648 when q is too close to a half-integer to be sure.
fn kvq_fast_rint(q: f32) -> i32 {
  let a = abs(q);
  if (!(a < 1024.0)) { return -2147483647 - 1; }
  let r = round(q);
  if (0.5 - abs(q - r) <= (a + 1.0) * (1.0 / 65536.0)) { return -2147483647 - 1; }
  return i32(r);
}

// The FP8 code of the f32 quotient q (kvq_fp8_encode's result), or 0xffffffff when q is near a
// midpoint of the grid or outside 2^−40 … 2^17.
fn kvq_fast_fp8(q: f32, eb: u32) -> u32 {
  let b = bitcast<u32>(q);
  let ex = i32((b >> 23u) & 0xffu) - 127;
  if (ex < -40 || ex >= 17) { return 0xffffffffu; }
  let sign = (b >> 24u) & 0x80u;
  let mb = 7u - eb;
  let bias = (1 << (eb - 1u)) - 1;
  let last = select(0x7bu, 0x7eu, eb == 4u);
  let a = abs(q);
  if (a >= select(57344.0, 448.0, eb == 4u)) { return sign | last; }
  let eff = max(ex, 1 - bias);
  let scaled = ldexp(a, i32(mb) - eff); // exact: a power-of-two scaling into [0, 2^(mb+1))
  let r = round(scaled);
  if (0.5 - abs(scaled - r) <= 1.0 / 4096.0) { return 0xffffffffu; }
  return sign | ((u32(eff + bias - 1) << mb) + u32(r));
}
`;
