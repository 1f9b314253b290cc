// Elementwise kernels: unary and binary ops with the CPU backend's semantics (NaN propagates
// through maximum/minimum; integers wrap). Floats compute in f32 and round once to the dtype.
#include "kvkit/prelude.cuh"

// Op codes: the order of UnaryOp / BinaryOp in kernels/elementwise.ts.
enum { U_NEG, U_ABS, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_SQUARE, U_RECIPROCAL, U_TANH, U_SIGMOID, U_SILU, U_GELU, U_GELU_TANH, U_RELU, U_AFFINE };
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAXIMUM, B_MINIMUM, B_POW };

__device__ __forceinline__ float unary_float(int op, float x, float alpha, float beta) {
  switch (op) {
    case U_NEG: return -x;
    case U_ABS: return fabsf(x);
    case U_EXP: return expf(x);
    case U_LOG: return logf(x);
    case U_SQRT: return sqrtf(x);
    case U_RSQRT: return 1.0f / sqrtf(x);
    case U_SQUARE: return x * x;
    case U_RECIPROCAL: return 1.0f / x;
    case U_TANH: return tanhf(x);
    case U_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case U_SILU: return x / (1.0f + expf(-x));
    case U_GELU: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    case U_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case U_RELU: return x > 0.0f ? x : (kv_isnan(x) ? x : 0.0f);
    default: return alpha * x + beta;  // U_AFFINE
  }
}

__device__ __forceinline__ kv_i64 unary_int(int op, kv_i64 x) {
  switch (op) {
    case U_NEG: return -x;
    case U_ABS: return x < 0 ? -x : x;
    case U_SQUARE: return x * x;
    default: return x > 0 ? x : 0;  // U_RELU (the only other integer op)
  }
}

__device__ __forceinline__ float binary_float(int op, float a, float b) {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_MAXIMUM: return (kv_isnan(a) || kv_isnan(b)) ? KV_NAN : (a > b ? a : b);
    case B_MINIMUM: return (kv_isnan(a) || kv_isnan(b)) ? KV_NAN : (a < b ? a : b);
    default: return powf(a, b);  // B_POW
  }
}

__device__ __forceinline__ kv_i64 binary_int(int op, kv_i64 a, kv_i64 b) {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return (kv_i64)((kv_u64)a * (kv_u64)b);
    case B_MAXIMUM: return a > b ? a : b;
    default: return a < b ? a : b;  // B_MINIMUM (integers allow no other op)
  }
}

template <class T>
__device__ __forceinline__ T apply_unary(int op, T x, float alpha, float beta) {
  if constexpr (KvType<T>::is_float) return KvType<T>::store(unary_float(op, KvType<T>::load(x), alpha, beta));
  else return KvType<T>::store(unary_int(op, KvType<T>::load(x)));
}

template <class T>
__device__ __forceinline__ T apply_binary(int op, T a, T b) {
  if constexpr (KvType<T>::is_float) return KvType<T>::store(binary_float(op, KvType<T>::load(a), KvType<T>::load(b)));
  else return KvType<T>::store(binary_int(op, KvType<T>::load(a), KvType<T>::load(b)));
}

// 16 bytes of T, for vectorized loads and stores on contiguous, 16-byte aligned data.
template <class T>
union alignas(16) Vec16 {
  kv_u32 raw[4];
  T v[16 / sizeof(T)];
};

template <class T>
__device__ __forceinline__ void unary_contig(T* __restrict__ out, const T* __restrict__ x, kv_i64 n, int op, float alpha, float beta) {
  constexpr int V = 16 / sizeof(T);
  const kv_i64 nv = n / V;
  const Vec16<T>* xv = reinterpret_cast<const Vec16<T>*>(x);
  Vec16<T>* ov = reinterpret_cast<Vec16<T>*>(out);
  KV_GRID_LOOP(i, nv) {
    Vec16<T> a = xv[i], r;
#pragma unroll
    for (int k = 0; k < V; k++) r.v[k] = apply_unary(op, a.v[k], alpha, beta);
    ov[i] = r;
  }
  KV_GRID_LOOP(j, n - nv * V) out[nv * V + j] = apply_unary(op, x[nv * V + j], alpha, beta);
}

template <class T>
__device__ __forceinline__ void binary_contig(T* __restrict__ out, const T* __restrict__ a, const T* __restrict__ b, kv_i64 n, int op) {
  constexpr int V = 16 / sizeof(T);
  const kv_i64 nv = n / V;
  const Vec16<T>* av = reinterpret_cast<const Vec16<T>*>(a);
  const Vec16<T>* bv = reinterpret_cast<const Vec16<T>*>(b);
  Vec16<T>* ov = reinterpret_cast<Vec16<T>*>(out);
  KV_GRID_LOOP(i, nv) {
    Vec16<T> x = av[i], y = bv[i], r;
#pragma unroll
    for (int k = 0; k < V; k++) r.v[k] = apply_binary(op, x.v[k], y.v[k]);
    ov[i] = r;
  }
  KV_GRID_LOOP(j, n - nv * V) out[nv * V + j] = apply_binary(op, a[nv * V + j], b[nv * V + j]);
}

#define KV_ELEMENTWISE(sn, T)                                                                                              \
  extern "C" __global__ void kv_unary_contig_##sn(T* out, const T* x, kv_i64 n, int op, float alpha, float beta) {         \
    unary_contig(out, x, n, op, alpha, beta);                                                                              \
  }                                                                                                                        \
  extern "C" __global__ void kv_unary_##sn(T* __restrict__ out, const T* __restrict__ x, KvLayout xl, kv_i64 n, int op,     \
                                           float alpha, float beta) {                                                      \
    KV_GRID_LOOP(i, n) out[i] = apply_unary(op, x[kv_offset(xl, i)], alpha, beta);                                        \
  }                                                                                                                        \
  extern "C" __global__ void kv_binary_contig_##sn(T* out, const T* a, const T* b, kv_i64 n, int op) {                     \
    binary_contig(out, a, b, n, op);                                                                                       \
  }                                                                                                                        \
  extern "C" __global__ void kv_binary_##sn(T* __restrict__ out, const T* __restrict__ a, const T* __restrict__ b,          \
                                            KvLayout al, KvLayout bl, kv_i64 n, int op) {                                  \
    KV_GRID_LOOP(i, n) out[i] = apply_binary(op, a[kv_offset(al, i)], b[kv_offset(bl, i)]);                               \
  }
KV_FOR_ALL_DTYPES(KV_ELEMENTWISE)
