// Softmax / log-softmax along an axis, RMSNorm and LayerNorm over the last axis. Inputs are
// row-major. Statistics accumulate in f64; exp/log run in f32 and each output rounds once.
#include "kvkit/prelude.cuh"
#include "row-resident.cuh"

// Rows too long for the single-pass kernels below: one block per row, the row read three times
// (max, then Σ exp(x − max), then the outputs).
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

// Single pass over rows held in registers (row-resident.cuh): max, Σ exp(x − max) from the same
// registers (softmax keeps the exponentials, so each is computed once), then one write.
template <class T, int VECS, bool VECTORS>
__device__ void softmax_resident(T* out, const T* x, kv_i64 rows, kv_i64 n, int lanes, int logOut) {
  __shared__ float maxScratch[KV_ROW_MAX_LANES / 32];
  __shared__ double sumScratch[KV_ROW_MAX_LANES / 32];
  const KvRowSlot slot = kv_row_slot(lanes);
  float v[VECS * KvVec16Lanes<T>::E];
  for (kv_i64 first = (kv_i64)blockIdx.x * slot.rowsPerBlock; first < rows; first += (kv_i64)gridDim.x * slot.rowsPerBlock) {
    const kv_i64 r = first + slot.row;
    const bool active = r < rows;  // a block's rows past the end still join its barriers
    kv_row_load<T, VECS, VECTORS>(v, x + r * n, n, slot, active, -KV_INF);  // −∞ padding adds exp(−∞) = 0
    float m = -KV_INF;
#pragma unroll
    for (int k = 0; k < VECS * KvVec16Lanes<T>::E; k++) m = kv_max_nan(m, v[k]);
    m = kv_row_reduce<KvRowMax>(m, maxScratch, lanes);
    double s = 0;
#pragma unroll
    for (int k = 0; k < VECS * KvVec16Lanes<T>::E; k++) {
      const float e = expf(v[k] - m);
      s += (double)e;
      if (!logOut) v[k] = e;
    }
    s = kv_row_reduce<KvRowSum>(s, sumScratch, lanes);
    if (logOut) {
      const float lse = m + (float)log(s);
#pragma unroll
      for (int k = 0; k < VECS * KvVec16Lanes<T>::E; k++) v[k] -= lse;
    } else {
      const float inv = (float)(1.0 / s);
#pragma unroll
      for (int k = 0; k < VECS * KvVec16Lanes<T>::E; k++) v[k] *= inv;
    }
    if (active) kv_row_store<T, VECS, VECTORS>(out + r * n, v, n, slot);
  }
}

// Rows too long for the single-pass kernel below: one block per row, the row read twice.
// RMSNorm: x / sqrt(mean(x²) + eps) · weight.
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

// Single-pass RMSNorm over rows held in registers (row-resident.cuh); the weight (one row for all
// rows, cached after the first rows read it) in the same layout, by 16-byte loads where it is as
// wide as x.
template <class T, class W, int VECS, bool VECTORS>
__device__ void rms_norm_resident(T* out, const T* x, const W* weight, kv_i64 rows, kv_i64 d, float eps, int lanes) {
  __shared__ double scratch[KV_ROW_MAX_LANES / 32];
  const KvRowSlot slot = kv_row_slot(lanes);
  float v[VECS * KvVec16Lanes<T>::E];
  for (kv_i64 first = (kv_i64)blockIdx.x * slot.rowsPerBlock; first < rows; first += (kv_i64)gridDim.x * slot.rowsPerBlock) {
    const kv_i64 r = first + slot.row;
    const bool active = r < rows;
    kv_row_load<T, VECS, VECTORS>(v, x + r * d, d, slot, active, 0.0f);
    double ss = 0;
#pragma unroll
    for (int k = 0; k < VECS * KvVec16Lanes<T>::E; k++) ss += (double)v[k] * (double)v[k];
    ss = kv_row_reduce<KvRowSum>(ss, scratch, lanes);
    const float inv = (float)(1.0 / sqrt(ss / (double)d + (double)eps));
#pragma unroll
    for (int q = 0; q < VECS; q++) {
      float w[KvVec16Lanes<T>::E];
      kv_row_load_vector_as<T, W, VECTORS>(w, weight, d, q, slot);
#pragma unroll
      for (int j = 0; j < KvVec16Lanes<T>::E; j++) v[q * KvVec16Lanes<T>::E + j] = v[q * KvVec16Lanes<T>::E + j] * inv * w[j];
    }
    if (active) kv_row_store<T, VECS, VECTORS>(out + r * d, v, d, slot);
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

// Single-pass kernels: `_v<VECS>` read 16-byte vectors (rows 16-byte aligned), `_s<VECS>` the same
// number of elements one at a time (any alignment).
#define KV_SOFTMAX_RESIDENT(sn, T, VECS, layout, VECTORS)                                                                 \
  extern "C" __global__ void __launch_bounds__(KV_ROW_MAX_LANES)                                                        \
      kv_softmax_resident_##sn##_##layout##VECS(T* out, const T* x, kv_i64 rows, kv_i64 n, int lanes, int logOut) {     \
    softmax_resident<T, VECS, VECTORS>(out, x, rows, n, lanes, logOut);                                                \
  }
#define KV_SOFTMAX(sn, T)                                                                                               \
  KV_FOR_ROW_RESIDENT_VARIANTS(KV_SOFTMAX_RESIDENT, sn, T)                                                              \
  extern "C" __global__ void kv_softmax_rows_##sn(T* out, const T* x, kv_i64 rows, kv_i64 n, int logOut) {             \
    softmax_rows(out, x, rows, n, logOut);                                                                              \
  }                                                                                                                     \
  extern "C" __global__ void kv_softmax_columns_##sn(T* out, const T* x, kv_i64 outer, kv_i64 length, kv_i64 inner,    \
                                                     int logOut) {                                                      \
    softmax_columns(out, x, outer, length, inner, logOut);                                                              \
  }
KV_FOR_FLOAT_DTYPES(KV_SOFTMAX)

// Norm kernels for every (input dtype, weight dtype) pair of float dtypes.
#define KV_RMS_NORM_RESIDENT(sn, T, wn, W, VECS, layout, VECTORS)                                                          \
  extern "C" __global__ void __launch_bounds__(KV_ROW_MAX_LANES) kv_rms_norm_resident_##sn##_##wn##_##layout##VECS(          \
      T* out, const T* x, const W* weight, kv_i64 rows, kv_i64 d, float eps, int lanes) {                                    \
    rms_norm_resident<T, W, VECS, VECTORS>(out, x, weight, rows, d, eps, lanes);                                             \
  }
#define KV_NORM(sn, T, wn, W)                                                                                              \
  KV_FOR_ROW_RESIDENT_VARIANTS(KV_RMS_NORM_RESIDENT, sn, T, wn, W)                                                          \
  extern "C" __global__ void kv_rms_norm_##sn##_##wn(T* out, const T* x, const W* weight, kv_i64 rows, kv_i64 d, float eps) { \
    rms_norm(out, x, weight, rows, d, eps);                                                                                \
  }                                                                                                                        \
  extern "C" __global__ void kv_layer_norm_##sn##_##wn(T* out, const T* x, const W* weight, const W* bias, kv_i64 rows,    \
                                                       kv_i64 d, float eps) {                                              \
    layer_norm(out, x, weight, bias, rows, d, eps);                                                                        \
  }
#define KV_NORM_ALL_WEIGHTS(sn, T) KV_NORM(sn, T, f32, float) KV_NORM(sn, T, f16, kv_f16) KV_NORM(sn, T, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_NORM_ALL_WEIGHTS)
