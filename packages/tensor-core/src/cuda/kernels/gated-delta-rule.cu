// gatedDeltaRule (Gated DeltaNet's recurrence) on row-major q and k [n, keyHeads, dk], v [n, heads,
// dv], beta [n, heads], g [n, heads] (f32), state [heads, dk, dv] (f32). A thread per (head, value column j)
// walks the rows in order: the column S[h, :, j] is all its decay, correction (Sᵀk), rank-one
// update and read (Sᵀq) need, and neighbouring threads take neighbouring columns, so each pass
// reads the state in whole rows. f32 throughout (the state read and written in the output state,
// first copied from the input); the output in q's dtype.
#include "kvkit/prelude.cuh"

template <class T>
__device__ void gated_delta_rule(T* out, float* next, const T* q, const T* k, const T* v, const float* g, const T* beta, const float* state, kv_i64 n,
                                 kv_i64 keyHeads, kv_i64 heads, kv_i64 dk, kv_i64 dv) {
  const kv_i64 column = ((kv_i64)blockIdx.x + (kv_i64)blockIdx.y * gridDim.x) * blockDim.x + threadIdx.x;
  if (column >= heads * dv) return;
  const kv_i64 h = column / dv;
  const kv_i64 j = column - h * dv;
  const kv_i64 kh = h / (heads / keyHeads);
  const kv_i64 base = h * dk * dv + j;
  for (kv_i64 i = 0; i < dk; i++) next[base + i * dv] = state[base + i * dv];
  for (kv_i64 t = 0; t < n; t++) {
    const kv_i64 th = t * heads + h;
    const float decay = expf(g[th]);
    const kv_i64 key = (t * keyHeads + kh) * dk;
    float recalled = 0.0f;
    for (kv_i64 i = 0; i < dk; i++) {
      const float s = __fmul_rn(decay, next[base + i * dv]);
      next[base + i * dv] = s;
      recalled = __fadd_rn(recalled, __fmul_rn(s, KvType<T>::load(k[key + i])));
    }
    const float delta = __fmul_rn(KvType<T>::load(beta[th]), __fadd_rn(KvType<T>::load(v[th * dv + j]), -recalled));
    float read = 0.0f;
    for (kv_i64 i = 0; i < dk; i++) {
      const float s = __fadd_rn(next[base + i * dv], __fmul_rn(KvType<T>::load(k[key + i]), delta));
      next[base + i * dv] = s;
      read = __fadd_rn(read, __fmul_rn(s, KvType<T>::load(q[key + i])));
    }
    out[th * dv + j] = KvType<T>::store(read);
  }
}

#define KV_GATED_DELTA_RULE(sn, T)                                                                                              \
  extern "C" __global__ void kv_gated_delta_rule_##sn(T* out, float* next, const T* q, const T* k, const T* v, const float* g, \
                                                      const T* beta, const float* state, kv_i64 n, kv_i64 keyHeads,            \
                                                      kv_i64 heads, kv_i64 dk, kv_i64 dv) {                                    \
    gated_delta_rule(out, next, q, k, v, g, beta, state, n, keyHeads, heads, dk, dv);                                           \
  }
KV_FOR_FLOAT_DTYPES(KV_GATED_DELTA_RULE)
