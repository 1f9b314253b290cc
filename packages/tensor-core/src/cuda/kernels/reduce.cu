// Reductions (sum/mean/max/min over any axes), argmax/argmin along one axis, and top-k along the
// last axis. Sums accumulate in f64 (integers in i64, wrapping on store); max/min/argmax/argmin
// and top-k follow the CPU backend's NaN rules.
#include "kvkit/prelude.cuh"

enum { R_SUM, R_MEAN, R_MAX, R_MIN };

// Accumulation type: f64 for floats (every f32/f16/bf16 value is exact in it), i64 for integers.
template <class T, bool F = KvType<T>::is_float>
struct Acc;
template <class T>
struct Acc<T, true> {
  typedef double A;
  static __device__ __forceinline__ double load(T v) { return (double)KvType<T>::load(v); }
  static __device__ __forceinline__ T store(double a) { return KvType<T>::from_double(a); }
  static __device__ __forceinline__ double lowest() { return -(double)KV_INF; }
  static __device__ __forceinline__ double highest() { return (double)KV_INF; }
};
template <class T>
struct Acc<T, false> {
  typedef kv_i64 A;
  static __device__ __forceinline__ kv_i64 load(T v) { return (kv_i64)v; }
  static __device__ __forceinline__ T store(kv_i64 a) { return (T)a; }
  static __device__ __forceinline__ kv_i64 lowest() { return (kv_i64)(-9223372036854775807LL - 1); }
  static __device__ __forceinline__ kv_i64 highest() { return 9223372036854775807LL; }
};

template <class A>
__device__ __forceinline__ A combine(int op, A a, A b) {
  if (op == R_SUM || op == R_MEAN) return a + b;
  if (kv_isnan((double)a)) return a;
  if (kv_isnan((double)b)) return b;
  if (op == R_MAX) return a > b ? a : b;
  return a < b ? a : b;
}

template <class T>
__device__ __forceinline__ typename Acc<T>::A identity(int op) {
  return op == R_MAX ? Acc<T>::lowest() : (op == R_MIN ? Acc<T>::highest() : (typename Acc<T>::A)0);
}

template <class T>
__device__ __forceinline__ T finish(int op, typename Acc<T>::A a, kv_i64 count) {
  if (op == R_MEAN) return Acc<T>::store((double)a / (double)count);
  return Acc<T>::store(a);
}

// One block per output: threads stride over the reduced elements (used when the innermost,
// contiguous axis is reduced, so neighbouring threads read neighbouring elements).
template <class T>
__device__ void reduce_rows(T* out, const T* x, const KvLayout& kept, const KvLayout& reduced, kv_i64 nOut, kv_i64 nRed, int op) {
  typedef typename Acc<T>::A A;
  __shared__ A partial[256];
  for (kv_i64 o = blockIdx.x; o < nOut; o += gridDim.x) {
    const kv_i64 base = kv_offset(kept, o);
    A acc = identity<T>(op);
    for (kv_i64 r = threadIdx.x; r < nRed; r += blockDim.x) acc = combine(op, acc, Acc<T>::load(x[base + kv_offset(reduced, r)]));
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) partial[threadIdx.x] = combine(op, partial[threadIdx.x], partial[threadIdx.x + s]);
      __syncthreads();
    }
    if (threadIdx.x == 0) out[o] = finish<T>(op, partial[0], nRed);
    __syncthreads();
  }
}

// One thread per output: each walks its reduced elements (used when a kept axis is innermost, so
// neighbouring threads read neighbouring elements at every step).
template <class T>
__device__ void reduce_columns(T* out, const T* x, const KvLayout& kept, const KvLayout& reduced, kv_i64 nOut, kv_i64 nRed, int op) {
  typedef typename Acc<T>::A A;
  KV_GRID_LOOP(o, nOut) {
    const kv_i64 base = kv_offset(kept, o);
    A acc = identity<T>(op);
    for (kv_i64 r = 0; r < nRed; r++) acc = combine(op, acc, Acc<T>::load(x[base + kv_offset(reduced, r)]));
    out[o] = finish<T>(op, acc, nRed);
  }
}

// (value, index) of argmax/argmin: NaN wins (the first NaN); otherwise the better value; ties keep
// the lower index — the CPU backend's rule.
__device__ __forceinline__ bool arg_better(bool isMax, double v, kv_i64 i, double bv, kv_i64 bi) {
  const bool vn = kv_isnan(v), bn = kv_isnan(bv);
  if (vn || bn) return vn && (!bn || i < bi);
  if (v != bv) return isMax ? v > bv : v < bv;
  return i < bi;
}

template <class T>
__device__ void arg_rows(kv_i32* out, const T* x, const KvLayout& kept, kv_i64 axisStride, kv_i64 length, kv_i64 nOut, int isMax) {
  __shared__ double values[256];
  __shared__ kv_i64 indices[256];
  for (kv_i64 o = blockIdx.x; o < nOut; o += gridDim.x) {
    const kv_i64 base = kv_offset(kept, o);
    double best = 0;
    kv_i64 bi = -1;
    for (kv_i64 r = threadIdx.x; r < length; r += blockDim.x) {
      double v = (double)KvType<T>::load(x[base + r * axisStride]);
      if (bi < 0 || arg_better(isMax, v, r, best, bi)) {
        best = v;
        bi = r;
      }
    }
    values[threadIdx.x] = best;
    indices[threadIdx.x] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) {
        kv_i64 oi = indices[threadIdx.x + s];
        if (oi >= 0 && (indices[threadIdx.x] < 0 || arg_better(isMax, values[threadIdx.x + s], oi, values[threadIdx.x], indices[threadIdx.x]))) {
          values[threadIdx.x] = values[threadIdx.x + s];
          indices[threadIdx.x] = oi;
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) out[o] = (kv_i32)indices[0];
    __syncthreads();
  }
}

template <class T>
__device__ void arg_columns(kv_i32* out, const T* x, const KvLayout& kept, kv_i64 axisStride, kv_i64 length, kv_i64 nOut, int isMax) {
  KV_GRID_LOOP(o, nOut) {
    const kv_i64 base = kv_offset(kept, o);
    double best = (double)KvType<T>::load(x[base]);
    kv_i64 bi = 0;
    for (kv_i64 r = 1; r < length; r++) {
      double v = (double)KvType<T>::load(x[base + r * axisStride]);
      if (arg_better(isMax, v, r, best, bi)) {
        best = v;
        bi = r;
      }
    }
    out[o] = (kv_i32)bi;
  }
}

// ---- top-k: bitonic sort of (value, index) per row, in the order the CPU backend defines -------

// True when element a = (va, ia) comes before b: largest → NaN first, then larger; smallest →
// smaller first, NaN last; ties by lower index; padding (index ≥ n) always last.
__device__ __forceinline__ bool topk_before(double va, kv_i32 ia, double vb, kv_i32 ib, kv_i32 n, int largest) {
  if (ia >= n || ib >= n) return ia < ib;
  const bool an = kv_isnan(va), bn = kv_isnan(vb);
  if (an || bn) {
    if (an && bn) return ia < ib;
    return largest ? an : bn;
  }
  if (va != vb) return largest ? va > vb : va < vb;
  return ia < ib;
}

__device__ __forceinline__ void topk_compare_swap(double* keys, kv_i32* idx, kv_i64 i, kv_i64 j, kv_i64 k, kv_i32 n, int largest) {
  const kv_i64 l = i ^ j;
  if (l <= i) return;
  const bool ascending = (i & k) == 0;
  const bool lFirst = topk_before(keys[l], idx[l], keys[i], idx[i], n, largest);
  const bool iFirst = topk_before(keys[i], idx[i], keys[l], idx[l], n, largest);
  if (ascending ? lFirst : iFirst) {
    double tk = keys[i];
    keys[i] = keys[l];
    keys[l] = tk;
    kv_i32 ti = idx[i];
    idx[i] = idx[l];
    idx[l] = ti;
  }
}

// Rows whose padded length P ≤ 2048: one block per row sorts in shared memory.
template <class T>
__device__ void topk_shared(T* values, kv_i32* indices, const T* x, kv_i32 n, kv_i32 P, kv_i32 k, int largest) {
  __shared__ double keys[2048];
  __shared__ kv_i32 idx[2048];
  const kv_i64 row = blockIdx.x;
  for (kv_i32 i = threadIdx.x; i < P; i += blockDim.x) {
    keys[i] = i < n ? (double)KvType<T>::load(x[row * n + i]) : 0.0;
    idx[i] = i;
  }
  __syncthreads();
  for (kv_i32 size = 2; size <= P; size <<= 1) {
    for (kv_i32 stride = size >> 1; stride > 0; stride >>= 1) {
      for (kv_i32 i = threadIdx.x; i < P; i += blockDim.x) topk_compare_swap(keys, idx, i, stride, size, n, largest);
      __syncthreads();
    }
  }
  for (kv_i32 i = threadIdx.x; i < k; i += blockDim.x) {
    values[row * k + i] = x[row * n + idx[i]];
    indices[row * k + i] = idx[i];
  }
}

template <class T>
__device__ void topk_load(double* keys, kv_i32* idx, const T* x, kv_i64 rows, kv_i32 n, kv_i32 P) {
  KV_GRID_LOOP(e, rows * P) {
    const kv_i64 row = e / P;
    const kv_i32 i = (kv_i32)(e - row * P);
    keys[e] = i < n ? (double)KvType<T>::load(x[row * n + i]) : 0.0;
    idx[e] = i;
  }
}

template <class T>
__device__ void topk_store(T* values, kv_i32* indices, const T* x, const kv_i32* idx, kv_i64 rows, kv_i32 n, kv_i32 P, kv_i32 k) {
  KV_GRID_LOOP(e, rows * k) {
    const kv_i64 row = e / k;
    const kv_i32 i = idx[row * P + (e - row * k)];
    values[e] = x[row * n + i];
    indices[e] = i;
  }
}

// One compare-and-swap step (size, stride) of the bitonic network over every padded row in global memory.
extern "C" __global__ void kv_topk_step(double* keys, kv_i32* idx, kv_i64 rows, kv_i32 n, kv_i32 P, kv_i32 size, kv_i32 stride, int largest) {
  KV_GRID_LOOP(e, rows * P) {
    const kv_i64 row = e / P;
    const kv_i64 i = e - row * P;
    topk_compare_swap(keys + row * P, idx + row * P, i, stride, size, n, largest);
  }
}

#define KV_REDUCE(sn, T)                                                                                                   \
  extern "C" __global__ void kv_reduce_rows_##sn(T* out, const T* x, KvLayout kept, KvLayout reduced, kv_i64 nOut,          \
                                                 kv_i64 nRed, int op) {                                                    \
    reduce_rows(out, x, kept, reduced, nOut, nRed, op);                                                                    \
  }                                                                                                                        \
  extern "C" __global__ void kv_reduce_columns_##sn(T* out, const T* x, KvLayout kept, KvLayout reduced, kv_i64 nOut,       \
                                                    kv_i64 nRed, int op) {                                                 \
    reduce_columns(out, x, kept, reduced, nOut, nRed, op);                                                                 \
  }                                                                                                                        \
  extern "C" __global__ void kv_arg_rows_##sn(kv_i32* out, const T* x, KvLayout kept, kv_i64 axisStride, kv_i64 length,    \
                                              kv_i64 nOut, int isMax) {                                                    \
    arg_rows(out, x, kept, axisStride, length, nOut, isMax);                                                               \
  }                                                                                                                        \
  extern "C" __global__ void kv_arg_columns_##sn(kv_i32* out, const T* x, KvLayout kept, kv_i64 axisStride, kv_i64 length, \
                                                 kv_i64 nOut, int isMax) {                                                 \
    arg_columns(out, x, kept, axisStride, length, nOut, isMax);                                                            \
  }                                                                                                                        \
  extern "C" __global__ void kv_topk_shared_##sn(T* values, kv_i32* indices, const T* x, kv_i32 n, kv_i32 P, kv_i32 k,     \
                                                 int largest) {                                                            \
    topk_shared(values, indices, x, n, P, k, largest);                                                                     \
  }                                                                                                                        \
  extern "C" __global__ void kv_topk_load_##sn(double* keys, kv_i32* idx, const T* x, kv_i64 rows, kv_i32 n, kv_i32 P) {   \
    topk_load(keys, idx, x, rows, n, P);                                                                                   \
  }                                                                                                                        \
  extern "C" __global__ void kv_topk_store_##sn(T* values, kv_i32* indices, const T* x, const kv_i32* idx, kv_i64 rows,    \
                                                kv_i32 n, kv_i32 P, kv_i32 k) {                                            \
    topk_store(values, indices, x, idx, rows, n, P, k);                                                                    \
  }
KV_FOR_ALL_DTYPES(KV_REDUCE)
