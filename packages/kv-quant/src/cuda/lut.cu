// LUT (non-uniform) quantization of kv-quant (src/kernels/lut.ts) on CUDA, bit-exact with the CPU
// kernel: the group's midpoint and spread, (x − zero) / scale and the nearest-level search run in
// double with the CPU's operations in the CPU's order; parameters are rounded to f16/f32 as
// numeric/param-dtype.ts does; codes are packed in tensor-core's layout (floor(32/bits) per word,
// every group starting on a fresh word).
#include "kvkit/prelude.cuh"
#include "kvquant/float-kind.cuh"

// nearestLevel (kernels/lut.ts): NaN → 0, else the same comparisons and differences, ties → lower.
__device__ kv_u32 lut_nearest(const float* levels, kv_u32 count, double v) {
  if (v != v) return 0u;
  kv_u32 lo = 0u, hi = count - 1u;
  if (v <= (double)levels[0]) return 0u;
  if (v >= (double)levels[hi]) return hi;
  while (hi - lo > 1u) {
    const kv_u32 mid = (lo + hi) >> 1;
    if ((double)levels[mid] <= v) lo = mid;
    else hi = mid;
  }
  return v - (double)levels[lo] <= (double)levels[hi] - v ? lo : hi;
}

// f32 bits ordered as the numbers are (−0 below +0), for Math.min / Math.max.
__device__ __forceinline__ kv_u32 lut_order(float x) {
  const kv_u32 b = __float_as_uint(x);
  return (b >> 31) ? ~b : (b | 0x80000000u);
}

// The bits of x as an f16 or f32 parameter: to nearest, or (`up`, for x > 0) the smallest value ≥ x.
__device__ kv_u32 lut_param_bits(double x, int f16, bool up) {
  if (f16) {
    const kv_u32 b = kv_float_to_f16(kv_f64_to_f32_odd(x));
    return up && (double)kv_f16_to_float((kv_u16)b) < x ? b + 1u : b;
  }
  const kv_u32 b = __float_as_uint((float)x);
  return up && (double)__uint_as_float(b) < x ? b + 1u : b;
}

__device__ __forceinline__ double lut_param_value(kv_u32 bits, int f16) {
  return f16 ? (double)kv_f16_to_float((kv_u16)bits) : (double)__uint_as_float(bits);
}

__device__ __forceinline__ void lut_param_store(void* p, kv_i64 i, kv_u32 bits, int f16) {
  if (f16) ((kv_u16*)p)[i] = (kv_u16)bits;
  else ((kv_u32*)p)[i] = bits;
}

// One thread per (row, group). scale/zero null: the values are already normalized ('none').
extern "C" __global__ void kv_quantize_lut(kv_u32* words, void* scale, void* zero, const void* x, int xKind, const float* levels, kv_i64 rows, kv_i64 n,
                                           kv_i64 groupSize, kv_i64 wordsPerRow, int bits, int paramF16) {
  const kv_i64 groups = (n + groupSize - 1) / groupSize;
  const int vpw = 32 / bits;
  const kv_i64 perGroup = (groupSize + vpw - 1) / vpw;
  const kv_u32 count = 1u << bits;
  KV_GRID_LOOP(e, rows * groups) {
    const kv_i64 row = e / groups;
    const kv_i64 g = e - row * groups;
    const kv_i64 start = row * n + g * groupSize;
    const kv_i64 len = min(groupSize, n - g * groupSize);
    const bool minmax = scale != 0;
    double center = 0.0, half = 0.0;
    if (minmax) {
      float lo = KV_INF, hi = -KV_INF;
      bool nan = false;
      for (kv_i64 i = 0; i < len; i++) {
        const float xi = kv_load_float(x, start + i, xKind);
        nan = nan || xi != xi;
        if (lut_order(xi) < lut_order(lo)) lo = xi;
        if (lut_order(xi) > lut_order(hi)) hi = xi;
      }
      const double low = nan ? KV_NAN : (double)lo, high = nan ? KV_NAN : (double)hi;
      const kv_u32 zeroBits = lut_param_bits((low + high) / 2.0, paramF16, false);
      center = lut_param_value(zeroBits, paramF16);
      const double above = high - center, below = center - low;
      const double spread = (above != above || below != below) ? KV_NAN : (above < below ? below : above);
      const kv_u32 scaleBits = spread > 0.0 ? lut_param_bits(spread, paramF16, true) : 0u;
      half = lut_param_value(scaleBits, paramF16);
      lut_param_store(scale, e, scaleBits, paramF16);
      lut_param_store(zero, e, zeroBits, paramF16);
    }
    kv_u32* out = words + row * wordsPerRow + g * perGroup;
    // A short last group takes only the words its codes need (tensor-core's wordsPerRow).
    const kv_i64 groupWords = (len + vpw - 1) / vpw;
    for (kv_i64 w = 0; w < groupWords; w++) {
      kv_u32 word = 0;
      for (int k = 0; k < vpw && w * vpw + k < len; k++) {
        const double xi = (double)kv_load_float(x, start + w * vpw + k, xKind);
        const double v = !minmax ? xi : half > 0.0 ? (xi - center) / half : 0.0;
        word |= lut_nearest(levels, count, v) << (k * bits);
      }
      out[w] = word;
    }
  }
}

// One thread per value: the level, or level · scale + zero in double (the product is exact) rounded once to f32.
extern "C" __global__ void kv_dequantize_lut(float* out, const kv_u32* words, const float* levels, const void* scale, int scaleKind, const void* zero,
                                             int zeroKind, kv_i64 rows, kv_i64 n, kv_i64 groupSize, kv_i64 wordsPerRow, int bits) {
  KV_GRID_LOOP(e, rows * n) {
    const KvGroupedCode c = kv_grouped_code(words, e, n, groupSize, wordsPerRow, bits);
    out[e] = scale ? (float)((double)levels[c.code] * (double)kv_load_float(scale, c.group, scaleKind) + (double)kv_load_float(zero, c.group, zeroKind))
                   : levels[c.code];
  }
}
