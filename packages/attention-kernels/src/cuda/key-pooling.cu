// poolKeyScores: max or average pooling of every row of scores along its last axis (odd window,
// stride 1, same length; the window is clipped at the ends, and an average still divides by the
// full window). Max propagates NaN, as on the CPU.
#include "kvkit/prelude.cuh"

template <class T>
__device__ void pool_key_scores(T* out, const T* x, kv_i64 rows, int n, int half, int average) {
  KV_GRID_LOOP(e, rows * n) {
    const kv_i64 base = e - e % n;
    const int j = (int)(e % n);
    const int lo = j - half < 0 ? 0 : j - half, hi = j + half > n - 1 ? n - 1 : j + half;
    float acc = average ? 0.0f : -KV_INF;
    for (int t = lo; t <= hi; t++) {
      const float v = KvType<T>::load(x[base + t]);
      acc = average ? acc + v : kv_max_nan(acc, v);
    }
    out[e] = KvType<T>::store(average ? acc / (float)(2 * half + 1) : acc);
  }
}

#define KV_POOL_KEY_SCORES(sn, T)                                                                                                     \
  extern "C" __global__ void kv_pool_key_scores_##sn(T* out, const T* x, kv_i64 rows, int n, int half, int average) {               \
    pool_key_scores<T>(out, x, rows, n, half, average);                                                                               \
  }
KV_FOR_FLOAT_DTYPES(KV_POOL_KEY_SCORES)
