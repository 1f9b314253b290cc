// Vector quantization of channel groups (Coupled Quantization, src/kernels/vector.ts) on CUDA,
// bit-exact with the CPU kernel: the code is the first centroid whose double distance
// Σ (x − c)², accumulated in channel order with every −, · and + rounded to double, is strictly
// below all earlier ones (NaN never wins). The products and sums go through the _rn intrinsics so
// that NVRTC cannot contract them into a fused multiply-add (one rounding fewer than the CPU).
// Codes are packed in tensor-core's layout; dequantizing copies the centroid's f32 bits.
#include "kvkit/prelude.cuh"

#ifdef KVKIT_EMULATOR
// The host compiler builds the emulator in ISO C++ mode, which does not contract either.
__device__ __forceinline__ double vq_mul(double a, double b) { return a * b; }
__device__ __forceinline__ double vq_add(double a, double b) { return a + b; }
#else
__device__ __forceinline__ double vq_mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ double vq_add(double a, double b) { return __dadd_rn(a, b); }
#endif

template <class T>
__device__ __forceinline__ kv_u32 nearest_centroid(const T* x, const float* book, kv_i64 k, int c) {
  kv_u32 best = 0;
  double bestDist = KV_INF;
  for (kv_i64 i = 0; i < k; i++) {
    double s = 0.0;
    for (int j = 0; j < c; j++) {
      const double d = vq_add((double)KvType<T>::load(x[j]), -(double)book[i * c + j]);
      s = vq_add(s, vq_mul(d, d));
    }
    if (s < bestDist) {
      bestDist = s;
      best = (kv_u32)i;
    }
  }
  return best;
}

// One thread per output word: the codes of up to floor(32 / bits) consecutive groups of a token.
// x: [heads, n, groups · c] row-major; books: [heads, groups, 2^bits, c].
template <class T>
__device__ void quantize_vector(kv_u32* words, const T* x, const float* books, kv_i64 rows, kv_i64 n, kv_i64 groups, int c, int bits,
                                kv_i64 rowWords) {
  const int vpw = 32 / bits;
  const kv_i64 k = (kv_i64)1 << bits;
  KV_GRID_LOOP(w, rows * rowWords) {
    const kv_i64 row = w / rowWords;
    const kv_i64 head = row / n;
    const kv_i64 g0 = (w - row * rowWords) * vpw;
    kv_u32 word = 0;
    for (int q = 0; q < vpw && g0 + q < groups; q++) {
      const kv_i64 g = g0 + q;
      word |= nearest_centroid<T>(x + (row * groups + g) * c, books + (head * groups + g) * k * c, k, c) << (q * bits);
    }
    words[w] = word;
  }
}

#define KV_QUANTIZE_VECTOR(T, TN)                                                                                                        \
  extern "C" __global__ void kv_quantize_vector_##TN(kv_u32* words, const T* x, const float* books, kv_i64 rows, kv_i64 n, kv_i64 groups, \
                                                     int c, int bits, kv_i64 rowWords) {                                                  \
    quantize_vector<T>(words, x, books, rows, n, groups, c, bits, rowWords);                                                            \
  }
KV_QUANTIZE_VECTOR(float, f32)
KV_QUANTIZE_VECTOR(kv_f16, f16)
KV_QUANTIZE_VECTOR(kv_bf16, bf16)

// One thread per value: the bits of its centroid's coordinate (a copy, NaN payloads included).
extern "C" __global__ void kv_dequantize_vector(kv_u32* out, const kv_u32* words, const kv_u32* books, kv_i64 rows, kv_i64 n, kv_i64 groups, int c,
                                                int bits, kv_i64 rowWords) {
  const int vpw = 32 / bits;
  const kv_i64 d = groups * c;
  KV_GRID_LOOP(e, rows * d) {
    const kv_i64 row = e / d;
    const kv_i64 i = e - row * d;
    const kv_i64 g = i / c;
    const kv_u32 code = (words[row * rowWords + g / vpw] >> ((g % vpw) * bits)) & ((1u << bits) - 1u);
    out[e] = books[(((row / n) * groups + g) << bits) * c + code * c + (i - g * c)];
  }
}
