// Uniform group quantization of kv-quant (src/kernels/uniform.ts) on CUDA, bit-exact with the CPU
// kernel: parameters and codes are computed in double from the same f32 inputs, parameters are
// rounded outward to their dtype exactly as numeric/param-dtype.ts does, codes are packed in
// tensor-core's layout (floor(32/bits) per u32 word, every group starting on a fresh word).
#include "kvkit/prelude.cuh"

// ---- parameter dtypes: round to nearest, and the neighbour towards ±inf (param-dtype.ts `step`) ----
struct ParamF32 {
  typedef float S;
  static __device__ __forceinline__ double value(float s) { return (double)s; }
  static __device__ __forceinline__ float nearest(double x) { return (float)x; }
  static __device__ __forceinline__ float step(float s, bool up) {
    kv_u32 b = __float_as_uint(s);
    const bool negative = (b & 0x80000000u) != 0;
    if (b == 0u || b == 0x80000000u) b = up ? 1u : 0x80000001u;
    else b = negative == up ? b - 1u : b + 1u;
    return __uint_as_float(b);
  }
};

struct ParamF16 {
  typedef kv_f16 S;
  static __device__ __forceinline__ double value(kv_f16 s) { return (double)kv_f16_to_float(s.bits); }
  static __device__ __forceinline__ kv_f16 nearest(double x) { return kv_f16{kv_float_to_f16(kv_f64_to_f32_odd(x))}; }
  static __device__ __forceinline__ kv_f16 step(kv_f16 s, bool up) {
    kv_u32 b = s.bits;
    const bool negative = (b & 0x8000u) != 0;
    if (b == 0u || b == 0x8000u) b = up ? 1u : 0x8001u;
    else b = negative == up ? b - 1u : b + 1u;
    return kv_f16{(kv_u16)b};
  }
};

template <class P>
__device__ __forceinline__ typename P::S round_down(double x) {
  const typename P::S r = P::nearest(x);
  return P::value(r) > x ? P::step(r, false) : r;
}

template <class P>
__device__ __forceinline__ typename P::S round_up(double x) {
  const typename P::S r = P::nearest(x);
  return P::value(r) < x ? P::step(r, true) : r;
}

// Math.min / Math.max semantics (the CPU kernel's): NaN propagates, −0 < +0.
__device__ __forceinline__ bool neg_zero(double a) { return a == 0.0 && 1.0 / a < 0.0; }
__device__ __forceinline__ double js_min(double a, double b) {
  if (a != a || b != b) return KV_NAN;
  if (a == 0.0 && b == 0.0) return neg_zero(a) ? a : b;
  return a < b ? a : b;
}
__device__ __forceinline__ double js_max(double a, double b) {
  if (a != a || b != b) return KV_NAN;
  if (a == 0.0 && b == 0.0) return neg_zero(a) ? b : a;
  return a > b ? a : b;
}

// The CPU kernel's code: offset + clamp(rint(d / s), lo, hi) (rint: round half to even, as
// roundHalfEven), offset alone when there is no scale. A NaN quotient (an infinite difference over
// an infinite scale) makes the CPU's code NaN, which its Uint8Array stores as 0 — not the clamp's
// bound, which fmin/fmax would give (they drop a NaN operand).
__device__ __forceinline__ kv_u32 uniform_code(double d, double s, kv_u32 offset, double lo, double hi) {
  if (!(s > 0.0)) return offset;
  const double q = d / s;
  if (q != q) return 0u;
  return offset + (kv_u32)(kv_i32)fmin(hi, fmax(lo, rint(q)));
}

// One thread per (row, group): min/max (or abs-max), the rounded parameters, then the group's words.
template <class T, class P>
__device__ void quantize_uniform(kv_u32* words, typename P::S* scale, typename P::S* zero, const T* x, kv_i64 rows, kv_i64 n, kv_i64 groupSize,
                                 kv_i64 wordsPerRow, int bits, int symmetric) {
  const kv_i64 groups = (n + groupSize - 1) / groupSize;
  const int vpw = 32 / bits;
  const kv_i64 perGroup = (groupSize + vpw - 1) / vpw;
  const double top = (double)((1 << bits) - 1);
  const double half = (double)(1 << (bits - 1));
  KV_GRID_LOOP(e, rows * groups) {
    const kv_i64 row = e / groups;
    const kv_i64 g = e - row * groups;
    const T* v = x + row * n + g * groupSize;
    const kv_i64 len = min(groupSize, n - g * groupSize);
    kv_u32* out = words + row * wordsPerRow + g * perGroup;
    double z = 0.0, s = 0.0, lo = 0.0, hi = 0.0;
    if (symmetric) {
      double absMax = 0.0;
      for (kv_i64 i = 0; i < len; i++) absMax = js_max(absMax, fabs((double)KvType<T>::load(v[i])));
      const typename P::S ps = absMax > 0.0 ? round_up<P>(absMax / (half - 1.0)) : P::nearest(0.0);
      scale[e] = ps;
      s = P::value(ps);
      lo = 1.0 - half;
      hi = half - 1.0;
    } else {
      double mn = KV_INF, mx = -KV_INF;
      for (kv_i64 i = 0; i < len; i++) {
        const double xi = (double)KvType<T>::load(v[i]);
        mn = js_min(mn, xi);
        mx = js_max(mx, xi);
      }
      const typename P::S pz = round_down<P>(mn);
      z = P::value(pz);
      const typename P::S ps = mx > z ? round_up<P>((mx - z) / top) : P::nearest(0.0);
      zero[e] = pz;
      scale[e] = ps;
      s = P::value(ps);
      hi = top;
    }
    const kv_u32 offset = symmetric ? (kv_u32)half : 0u;
    // A short last group takes only the words its codes need (tensor-core's wordsPerRow): writing
    // perGroup words there would spill into the next row's codes, or past the end of the buffer.
    const kv_i64 groupWords = (len + vpw - 1) / vpw;
    for (kv_i64 w = 0; w < groupWords; w++) {
      kv_u32 word = 0;
      for (int k = 0; k < vpw && w * vpw + k < len; k++) {
        const double xi = (double)KvType<T>::load(v[w * vpw + k]);
        word |= uniform_code(xi - z, s, offset, lo, hi) << (k * bits);
      }
      out[w] = word;
    }
  }
}

// One thread per value: x̂ = (code − offset) · scale + zero in double, rounded once to f32.
template <class P>
__device__ void dequantize_uniform(float* out, const kv_u32* words, const typename P::S* scale, const typename P::S* zero, kv_i64 rows, kv_i64 n,
                                   kv_i64 groupSize, kv_i64 wordsPerRow, int bits) {
  const double offset = zero ? 0.0 : (double)(1 << (bits - 1));
  KV_GRID_LOOP(e, rows * n) {
    const KvGroupedCode c = kv_grouped_code(words, e, n, groupSize, wordsPerRow, bits);
    out[e] = (float)(((double)c.code - offset) * P::value(scale[c.group]) + (zero ? P::value(zero[c.group]) : 0.0));
  }
}

#define KV_QUANTIZE_UNIFORM(T, TN, P, PN)                                                                                                       \
  extern "C" __global__ void kv_quantize_uniform_##TN##_##PN(kv_u32* words, P::S* scale, P::S* zero, const T* x, kv_i64 rows, kv_i64 n,         \
                                                             kv_i64 groupSize, kv_i64 wordsPerRow, int bits, int symmetric) {                   \
    quantize_uniform<T, P>(words, scale, zero, x, rows, n, groupSize, wordsPerRow, bits, symmetric);                                            \
  }

KV_QUANTIZE_UNIFORM(float, f32, ParamF32, f32)
KV_QUANTIZE_UNIFORM(float, f32, ParamF16, f16)
KV_QUANTIZE_UNIFORM(kv_f16, f16, ParamF32, f32)
KV_QUANTIZE_UNIFORM(kv_f16, f16, ParamF16, f16)
KV_QUANTIZE_UNIFORM(kv_bf16, bf16, ParamF32, f32)
KV_QUANTIZE_UNIFORM(kv_bf16, bf16, ParamF16, f16)

extern "C" __global__ void kv_dequantize_uniform_f32(float* out, const kv_u32* words, const float* scale, const float* zero, kv_i64 rows, kv_i64 n,
                                                     kv_i64 groupSize, kv_i64 wordsPerRow, int bits) {
  dequantize_uniform<ParamF32>(out, words, scale, zero, rows, n, groupSize, wordsPerRow, bits);
}
extern "C" __global__ void kv_dequantize_uniform_f16(float* out, const kv_u32* words, const kv_f16* scale, const kv_f16* zero, kv_i64 rows, kv_i64 n,
                                                     kv_i64 groupSize, kv_i64 wordsPerRow, int bits) {
  dequantize_uniform<ParamF16>(out, words, scale, zero, rows, n, groupSize, wordsPerRow, bits);
}
