// selectiveScan (Mamba's recurrence) on row-major x [n, heads, headDim], dt [n, heads], a [heads]
// (f32; Mamba-2) or [heads, dState] (perState: Mamba-1's rate per state entry), b and c
// [n, groups, dState], state [heads, headDim, dState] (f32). One warp per (head,
// channel) pair walks the rows in order; each lane updates every 32nd state entry in the output
// state (first copied from the input) and the row's output is the warp's sum of their products
// with c. f32 throughout; y in x's dtype.
#include "kvkit/prelude.cuh"

template <class T>
__device__ void selective_scan(T* y, float* next, const T* x, const T* dt, const float* a, const T* b, const T* c, const float* state, kv_i64 n,
                               kv_i64 heads, kv_i64 headDim, kv_i64 groups, kv_i64 dState, int perState) {
  const kv_i64 pair = blockIdx.x + (kv_i64)blockIdx.y * gridDim.x;
  if (pair >= heads * headDim) return;
  const kv_i64 h = pair / headDim;
  const kv_i64 p = pair - h * headDim;
  const kv_i64 g = h / (heads / groups);
  const kv_i64 base = pair * dState;
  const int lane = threadIdx.x;
  for (kv_i64 s = lane; s < dState; s += 32) next[base + s] = state[base + s];
  const float* rates = a + (perState ? h * dState : h);
  for (kv_i64 t = 0; t < n; t++) {
    const float step = KvType<T>::load(dt[t * heads + h]);
    const float headDecay = expf(__fmul_rn(step, rates[0]));
    const float drive = __fmul_rn(step, KvType<T>::load(x[(t * heads + h) * headDim + p]));
    const kv_i64 bc = (t * groups + g) * dState;
    float sum = 0.0f;
    for (kv_i64 s = lane; s < dState; s += 32) {
      const float decay = perState ? expf(__fmul_rn(step, rates[s])) : headDecay;
      const float v = __fadd_rn(__fmul_rn(decay, next[base + s]), __fmul_rn(drive, KvType<T>::load(b[bc + s])));
      next[base + s] = v;
      sum = __fadd_rn(sum, __fmul_rn(v, KvType<T>::load(c[bc + s])));
    }
    sum = kv_warp_sum(sum);
    if (lane == 0) y[(t * heads + h) * headDim + p] = KvType<T>::store(sum);
  }
}

#define KV_SELECTIVE_SCAN(sn, T)                                                                                           \
  extern "C" __global__ void kv_selective_scan_##sn(T* y, float* next, const T* x, const T* dt, const float* a, const T* b, \
                                                    const T* c, const float* state, kv_i64 n, kv_i64 heads, kv_i64 headDim,  \
                                                    kv_i64 groups, kv_i64 dState, int perState) {                           \
    selective_scan(y, next, x, dt, a, b, c, state, n, heads, headDim, groups, dState, perState);                           \
  }
KV_FOR_FLOAT_DTYPES(KV_SELECTIVE_SCAN)
