// Softmax / log-softmax along an axis, RMSNorm and LayerNorm over the last axis. Inputs are
// row-major. Statistics accumulate in f64; exp/log run in f32 and each output rounds once.
#include "kvkit/prelude.cuh"

// One block per row (the axis is the last one): max, then Σ exp(x − max), then the outputs.
template <class T>
__device__ void softmax_rows(T* out, const T* x, kv_i64 rows, kv_i64 n, int logOut) {
  __shared__ float maxScratch[32];
  __shared__ double sumScratch[32];
  for (kv_i64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * n;
    T* dst = out + r * n;
    float m = -KV_INF;
    for (kv_i64 i = threadIdx.x; i < n; i += blockDim.x) m = kv_max_nan(m, KvType<T>::load(row[i]));
    m = kv_block_max_nan(m, maxScratch);
    double s = 0;
    for (kv_i64 i = threadIdx.x; i < n; i += blockDim.x) s += (double)expf(KvType<T>::load(row[i]) - m);
    s = kv_block_sum(s, sumScratch);
    if (logOut) {
      const float lse = m + (float)log(s);
      for (kv_i64 i = threadIdx.x; i < n; i += blockDim.x) dst[i] = KvType<T>::store(KvType<T>::load(row[i]) - lse);
    } else {
      const float inv = (float)(1.0 / s);
      for (kv_i64 i = threadIdx.x; i < n; i += blockDim.x) dst[i] = KvType<T>::store(expf(KvType<T>::load(row[i]) - m) * inv);
    }
  }
}

// One thread per line (outer, inner) when the axis is not the last: lines step by `inner`.
template <class T>
__device__ void softmax_columns(T* out, const T* x, kv_i64 outer, kv_i64 length, kv_i64 inner, int logOut) {
  KV_GRID_LOOP(line, outer * inner) {
    const kv_i64 o = line / inner;
    const kv_i64 start = o * length * inner + (line - o * inner);
    float m = -KV_INF;
    for (kv_i64 i = 0; i < length; i++) m = kv_max_nan(m, KvType<T>::load(x[start + i * inner]));
    double s = 0;
    for (kv_i64 i = 0; i < length; i++) s += (double)expf(KvType<T>::load(x[start + i * inner]) - m);
    if (logOut) {
      const float lse = m + (float)log(s);
      for (kv_i64 i = 0; i < length; i++) out[start + i * inner] = KvType<T>::store(KvType<T>::load(x[start + i * inner]) - lse);
    } else {
      const float inv = (float)(1.0 / s);
      for (kv_i64 i = 0; i < length; i++) out[start + i * inner] = KvType<T>::store(expf(KvType<T>::load(x[start + i * inner]) - m) * inv);
    }
  }
}

// RMSNorm: x / sqrt(mean(x²) + eps) · weight, one block per row.
template <class T, class W>
__device__ void rms_norm(T* out, const T* x, const W* weight, kv_i64 rows, kv_i64 d, float eps) {
  __shared__ double scratch[32];
  for (kv_i64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * d;
    double ss = 0;
    for (kv_i64 i = threadIdx.x; i < d; i += blockDim.x) {
      const double v = KvType<T>::load(row[i]);
      ss += v * v;
    }
    ss = kv_block_sum(ss, scratch);
    const float inv = (float)(1.0 / sqrt(ss / (double)d + (double)eps));
    for (kv_i64 i = threadIdx.x; i < d; i += blockDim.x) out[r * d + i] = KvType<T>::store(KvType<T>::load(row[i]) * inv * KvType<W>::load(weight[i]));
  }
}

// LayerNorm: (x − mean) / sqrt(var + eps) · weight + bias (bias may be null), one block per row.
template <class T, class W>
__device__ void layer_norm(T* out, const T* x, const W* weight, const W* bias, kv_i64 rows, kv_i64 d, float eps) {
  __shared__ double scratch[32];
  for (kv_i64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * d;
    double s = 0;
    for (kv_i64 i = threadIdx.x; i < d; i += blockDim.x) s += (double)KvType<T>::load(row[i]);
    const double mean = kv_block_sum(s, scratch) / (double)d;
    double v = 0;
    for (kv_i64 i = threadIdx.x; i < d; i += blockDim.x) {
      const double c = (double)KvType<T>::load(row[i]) - mean;
      v += c * c;
    }
    const double inv = 1.0 / sqrt(kv_block_sum(v, scratch) / (double)d + (double)eps);
    for (kv_i64 i = threadIdx.x; i < d; i += blockDim.x) {
      const float y = (float)(((double)KvType<T>::load(row[i]) - mean) * inv) * KvType<W>::load(weight[i]);
      out[r * d + i] = KvType<T>::store(bias ? y + KvType<W>::load(bias[i]) : y);
    }
  }
}

#define KV_SOFTMAX(sn, T)                                                                                               \
  extern "C" __global__ void kv_softmax_rows_##sn(T* out, const T* x, kv_i64 rows, kv_i64 n, int logOut) {             \
    softmax_rows(out, x, rows, n, logOut);                                                                              \
  }                                                                                                                     \
  extern "C" __global__ void kv_softmax_columns_##sn(T* out, const T* x, kv_i64 outer, kv_i64 length, kv_i64 inner,    \
                                                     int logOut) {                                                      \
    softmax_columns(out, x, outer, length, inner, logOut);                                                              \
  }
KV_FOR_FLOAT_DTYPES(KV_SOFTMAX)

// Norm kernels for every (input dtype, weight dtype) pair of float dtypes.
#define KV_NORM(sn, T, wn, W)                                                                                              \
  extern "C" __global__ void kv_rms_norm_##sn##_##wn(T* out, const T* x, const W* weight, kv_i64 rows, kv_i64 d, float eps) { \
    rms_norm(out, x, weight, rows, d, eps);                                                                                \
  }                                                                                                                        \
  extern "C" __global__ void kv_layer_norm_##sn##_##wn(T* out, const T* x, const W* weight, const W* bias, kv_i64 rows,    \
                                                       kv_i64 d, float eps) {                                              \
    layer_norm(out, x, weight, bias, rows, d, eps);                                                                        \
  }
#define KV_NORM_ALL_WEIGHTS(sn, T) KV_NORM(sn, T, f32, float) KV_NORM(sn, T, f16, kv_f16) KV_NORM(sn, T, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_NORM_ALL_WEIGHTS)
