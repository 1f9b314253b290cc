// Scaled FP8 (e4m3 / e5m2) encode and decode of kv-quant (src/kernels/fp8.ts, numeric/fp8.ts) on
// CUDA, bit-exact with the CPU kernel: x / scale in double, then the same search for the nearest
// code (ties to the even code, saturating finite values, e5m2 keeping ±inf, NaN → 0x7f).
#include "kvkit/prelude.cuh"

// Value of a code of 8 bits with `e` exponent bits (e4m3: S.1111.111 is NaN, no inf; e5m2: IEEE specials).
__device__ __forceinline__ double fp8_decode(kv_u32 code, int e) {
  const int m = 7 - e;
  const int bias = (1 << (e - 1)) - 1;
  const double sign = (code & 0x80u) ? -1.0 : 1.0;
  const int exponent = (int)((code >> m) & ((1u << e) - 1u));
  const int mantissa = (int)(code & ((1u << m) - 1u));
  const int allOnes = (1 << e) - 1;
  if (e == 5 && exponent == allOnes) return mantissa == 0 ? sign * KV_INF : KV_NAN;
  if (e == 4 && exponent == allOnes && mantissa == (1 << m) - 1) return KV_NAN;
  if (exponent == 0) return sign * mantissa * ldexp(1.0, 1 - bias - m);
  return sign * (1.0 + (double)mantissa / (double)(1 << m)) * ldexp(1.0, exponent - bias);
}

// Positive codes are increasing in value, so the finite magnitudes are the codes 0..last.
__device__ __forceinline__ kv_u32 fp8_encode(double x, int e) {
  const kv_u32 last = e == 4 ? 0x7eu : 0x7bu;
  if (x != x) return 0x7fu;
  const kv_u32 sign = (x < 0.0 || (x == 0.0 && 1.0 / x < 0.0)) ? 0x80u : 0u;  // -0 keeps its sign
  const double a = fabs(x);
  if (a == KV_INF && e == 5) return sign | 0x7cu;
  if (a >= fp8_decode(last, e)) return sign | last;
  kv_u32 lo = 0, hi = last;
  while (lo < hi) {  // first code whose value is ≥ a
    const kv_u32 mid = (lo + hi) >> 1;
    if (fp8_decode(mid, e) < a) lo = mid + 1;
    else hi = mid;
  }
  const double above = fp8_decode(lo, e);
  if (above == a || lo == 0) return sign | lo;
  const double below = fp8_decode(lo - 1, e);
  kv_u32 pick;
  if (a - below < above - a) pick = lo - 1;
  else if (a - below > above - a) pick = lo;
  else pick = ((lo - 1) & 1u) == 0 ? lo - 1 : lo;
  return sign | pick;
}

// One thread per output word (4 codes); rows of n values, packed rows of wordsPerRow words.
template <class T>
__device__ void quantize_fp8(kv_u32* words, const T* x, const float* scale, kv_i64 rows, kv_i64 n, kv_i64 wordsPerRow, kv_i64 rowsPerScale, int e) {
  KV_GRID_LOOP(w, rows * wordsPerRow) {
    const kv_i64 row = w / wordsPerRow;
    const kv_i64 first = (w - row * wordsPerRow) * 4;
    const double f = (double)scale[row / rowsPerScale];
    kv_u32 word = 0;
    for (int k = 0; k < 4 && first + k < n; k++) {
      const double v = (double)KvType<T>::load(x[row * n + first + k]);
      word |= fp8_encode(f > 0.0 ? v / f : 0.0, e) << (8 * k);
    }
    words[w] = word;
  }
}

#define KV_QUANTIZE_FP8(T, TN)                                                                                                                 \
  extern "C" __global__ void kv_quantize_fp8_##TN(kv_u32* words, const T* x, const float* scale, kv_i64 rows, kv_i64 n, kv_i64 wordsPerRow,   \
                                                  kv_i64 rowsPerScale, int e) {                                                               \
    quantize_fp8<T>(words, x, scale, rows, n, wordsPerRow, rowsPerScale, e);                                                                 \
  }
KV_QUANTIZE_FP8(float, f32)
KV_QUANTIZE_FP8(kv_f16, f16)
KV_QUANTIZE_FP8(kv_bf16, bf16)

// One thread per value: value(code) · scale in double, rounded once to f32.
extern "C" __global__ void kv_dequantize_fp8(float* out, const kv_u32* words, const float* scale, kv_i64 rows, kv_i64 n, kv_i64 wordsPerRow,
                                             kv_i64 rowsPerScale, int e) {
  KV_GRID_LOOP(i, rows * n) {
    const kv_i64 row = i / n;
    const kv_i64 j = i - row * n;
    const kv_u32 code = (words[row * wordsPerRow + j / 4] >> (8 * (j % 4))) & 0xffu;
    out[i] = (float)(fp8_decode(code, e) * (double)scale[row / rowsPerScale]);
  }
}
