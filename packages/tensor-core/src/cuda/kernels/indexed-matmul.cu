// indexedMatmul: out[r, j] = Σ_p x[r, p] · w[indices[r], j, p], the matrix index read on the device
// (the expert product of a mixture-of-experts block). Every operand is addressed through element
// strides, so views need no copy.
//
// A warp computes one output column of one row, its lanes walking the weight row along k (where HF
// weights are contiguous, so the reads coalesce), then a shuffle sum; a block of IM_COLUMNS warps
// takes IM_COLUMNS neighbouring columns of one row, so a decode step (a few rows) spreads over n.
// Blocks loop over (row, column tile) pairs. The `_v` kernels read x and the weights 16 bytes at a
// time (k-contiguous rows, 16-byte aligned: the launcher checks); `_s` read element by element.
// Accumulation is f32 in every dtype, as in matmul. A row whose index is outside the stack reads no
// weights and comes out as zeros (the op checks indices only on synchronous backends).
#include "kvkit/prelude.cuh"
#include "kvkit/vec16.cuh"

#define IM_COLUMNS 8

template <class T, bool VEC>
__device__ __forceinline__ void indexed_matmul(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ w, const kv_i32* __restrict__ indices,
                                               int unsignedIndices, kv_i64 rows, int n, int k, kv_i64 count, kv_i64 sXr, kv_i64 sXk, kv_i64 sWe,
                                               kv_i64 sWn, kv_i64 sWk, kv_i64 sI) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const kv_i64 tiles = (n + IM_COLUMNS - 1) / IM_COLUMNS;
  for (kv_i64 t = blockIdx.x; t < rows * tiles; t += gridDim.x) {
    const kv_i64 r = t / tiles;
    const int j = (int)(t - r * tiles) * IM_COLUMNS + warp;
    if (j >= n) continue;  // the whole warp: its shuffles stay complete
    const kv_i32 raw = indices[r * sI];
    const kv_i64 e = unsignedIndices ? (kv_i64)(kv_u32)raw : (kv_i64)raw;
    float acc = 0.0f;
    if (e >= 0 && e < count) {
      const T* xr = x + r * sXr;
      const T* wr = w + e * sWe + j * sWn;
      if constexpr (VEC) {
        constexpr int E = KvVec16Lanes<T>::E;
        const KvVec16* xv = reinterpret_cast<const KvVec16*>(xr);
        const KvVec16* wv = reinterpret_cast<const KvVec16*>(wr);
#pragma unroll 4
        for (int q = lane; q < k / E; q += 32) {
          float a[E], b[E];
          KvVec16Lanes<T>::unpack(xv[q], a);
          KvVec16Lanes<T>::unpack(wv[q], b);
#pragma unroll
          for (int i = 0; i < E; i++) acc = fmaf(a[i], b[i], acc);
        }
      } else {
        for (int p = lane; p < k; p += 32) acc = fmaf(KvType<T>::load(xr[p * sXk]), KvType<T>::load(wr[p * sWk]), acc);
      }
    }
    acc = kv_warp_sum(acc);
    if (lane == 0) out[r * n + j] = KvType<T>::store(acc);
  }
}

#define KV_INDEXED_MATMUL(sn, T)                                                                                                     \
  extern "C" __global__ void __launch_bounds__(IM_COLUMNS * 32)                                                                      \
      kv_indexed_matmul_v_##sn(T* out, const T* x, const T* w, const kv_i32* indices, int unsignedIndices, kv_i64 rows, int n, int k, \
                               kv_i64 count, kv_i64 sXr, kv_i64 sXk, kv_i64 sWe, kv_i64 sWn, kv_i64 sWk, kv_i64 sI) {                \
    indexed_matmul<T, true>(out, x, w, indices, unsignedIndices, rows, n, k, count, sXr, sXk, sWe, sWn, sWk, sI);                    \
  }                                                                                                                                  \
  extern "C" __global__ void __launch_bounds__(IM_COLUMNS * 32)                                                                      \
      kv_indexed_matmul_s_##sn(T* out, const T* x, const T* w, const kv_i32* indices, int unsignedIndices, kv_i64 rows, int n, int k, \
                               kv_i64 count, kv_i64 sXr, kv_i64 sXk, kv_i64 sWe, kv_i64 sWn, kv_i64 sWk, kv_i64 sI) {                \
    indexed_matmul<T, false>(out, x, w, indices, unsignedIndices, rows, n, k, count, sXr, sXk, sWe, sWn, sWk, sI);                   \
  }
KV_FOR_FLOAT_DTYPES(KV_INDEXED_MATMUL)
