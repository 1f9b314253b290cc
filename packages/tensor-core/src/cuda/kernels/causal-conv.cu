// causalConv1d on row-major window [taps − 1 + n, channels], weight [channels, taps] and an optional
// bias [channels] (null: none): out[t, c] = Σ_j window[t + j, c] · weight[c, j] (+ bias[c]), summed
// in f32 in tap order, one thread per output element (consecutive threads: consecutive channels,
// so each tap's row is read coalesced).
#include "kvkit/prelude.cuh"

template <class T>
__device__ void causal_conv1d(T* out, const T* window, const T* weight, const T* bias, kv_i64 n, kv_i64 channels, kv_i64 taps) {
  KV_GRID_LOOP(e, n * channels) {
    const kv_i64 t = e / channels;
    const kv_i64 c = e - t * channels;
    float sum = 0.0f;
    for (kv_i64 j = 0; j < taps; j++) sum = __fadd_rn(sum, __fmul_rn(KvType<T>::load(window[(t + j) * channels + c]), KvType<T>::load(weight[c * taps + j])));
    out[e] = KvType<T>::store(bias ? __fadd_rn(sum, KvType<T>::load(bias[c])) : sum);
  }
}

#define KV_CAUSAL_CONV1D(sn, T)                                                                                           \
  extern "C" __global__ void kv_causal_conv1d_##sn(T* out, const T* window, const T* weight, const T* bias, kv_i64 n,    \
                                                   kv_i64 channels, kv_i64 taps) {                                     \
    causal_conv1d(out, window, weight, bias, n, channels, taps);                                                          \
  }
KV_FOR_FLOAT_DTYPES(KV_CAUSAL_CONV1D)
