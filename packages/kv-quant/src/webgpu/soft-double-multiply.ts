/**
 * The float64 operations soft-double.ts lacks, for the rotation and vector-quantization kernels:
 * a full 53 × 53-bit product correctly rounded (the CPU's `d * d` and `x * (1 / √B)`), and IEEE
 * double bits ↔ `KvqF64`, to keep float64 intermediates in a u32 buffer. Appended to
 * SOFT_DOUBLE_WGSL (whose helpers it calls). As there, values never reach double's subnormal or
 * overflow range: they are f32 values, their sums over a block and their squares.
 */
export const SOFT_DOUBLE_MULTIPLY_WGSL = /* wgsl */ `
// a · b rounded to nearest (0 · ∞ = NaN, signs as IEEE).
fn kvq_mul(a: KvqF64, b: KvqF64) -> KvqF64 {
  let s = a.neg ^ b.neg;
  if (a.cls == KVQ_NAN || b.cls == KVQ_NAN) { return kvq_special(KVQ_NAN, 0u); }
  if (a.cls == KVQ_INF || b.cls == KVQ_INF) {
    if (a.cls == KVQ_ZERO || b.cls == KVQ_ZERO) { return kvq_special(KVQ_NAN, 0u); }
    return kvq_special(KVQ_INF, s);
  }
  if (a.cls == KVQ_ZERO || b.cls == KVQ_ZERO) { return kvq_special(KVQ_ZERO, s); }
  // Schoolbook product on 16-bit limbs: each partial product fits a u32, each column stays < 2^20.
  var x = array<u32, 4>(a.m.x & 0xffffu, a.m.x >> 16u, a.m.y & 0xffffu, a.m.y >> 16u);
  var y = array<u32, 4>(b.m.x & 0xffffu, b.m.x >> 16u, b.m.y & 0xffffu, b.m.y >> 16u);
  var col = array<u32, 8>(0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let p = x[i] * y[j];
      col[i + j] += p & 0xffffu;
      col[i + j + 1u] += p >> 16u;
    }
  }
  for (var k = 0u; k < 7u; k++) {
    col[k + 1u] += col[k] >> 16u;
    col[k] &= 0xffffu;
  }
  let w0 = col[0] | (col[1] << 16u);
  let w1 = col[2] | (col[3] << 16u);
  let w2 = col[4] | (col[5] << 16u);
  let w3 = col[6] | (col[7] << 16u);
  // The product has 105 or 106 bits: keep bits 42 … 105 and OR the rest into bit 0 (sticky).
  let sticky = select(0u, 1u, w0 != 0u || (w1 & 0x3ffu) != 0u);
  let m = vec2<u32>((w1 >> 10u) | (w2 << 22u) | sticky, (w2 >> 10u) | (w3 << 22u));
  return kvq_round(s, a.e + b.e + 42, m);
}

// IEEE double bits vec2<u32>(low, high) of a (NaN → the quiet NaN 0x7ff8…).
fn kvq_pack(a: KvqF64) -> vec2<u32> {
  let sign = a.neg << 31u;
  if (a.cls == KVQ_ZERO) { return vec2<u32>(0u, sign); }
  if (a.cls == KVQ_INF) { return vec2<u32>(0u, sign | 0x7ff00000u); }
  if (a.cls == KVQ_NAN) { return vec2<u32>(0u, 0x7ff80000u); }
  return vec2<u32>(a.m.x, sign | (u32(a.e + 1075) << 20u) | (a.m.y & 0xfffffu));
}

// The value of IEEE double bits (no double subnormal ever arises here: read as zero).
fn kvq_unpack(w: vec2<u32>) -> KvqF64 {
  let neg = w.y >> 31u;
  let ex = (w.y >> 20u) & 0x7ffu;
  let man = w.y & 0xfffffu;
  if (ex == 0x7ffu) { return kvq_special(select(KVQ_NAN, KVQ_INF, man == 0u && w.x == 0u), neg); }
  if (ex == 0u) { return kvq_special(KVQ_ZERO, neg); }
  return KvqF64(KVQ_FINITE, neg, i32(ex) - 1075, vec2<u32>(w.x, man | 0x100000u));
}
`;

/** A float64 as the two u32 uniforms `kvq_unpack` reads back (low word, high word). */
export function doubleWords(value: number): [number, number] {
  const words = new Uint32Array(Float64Array.of(value).buffer);
  return [words[0], words[1]];
}
