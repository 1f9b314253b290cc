// Pass 2 of every split-K kernel (decode, KIVI, prefix-shared, flash prefill's partitions): the
// partitions' partial states merged by log-sum-exp.
#include "kvkit/prelude.cuh"

// One block per output row: out = Σ_p e^{max_p − M} acc_p / Σ_p e^{max_p − M} sum_p, lse = M + log Σ.
template <class TQ>
__device__ void decode_merge(TQ* out, float* lse, const float* partAcc, const float* partStat, int rows, int parts, int dv) {
  const kv_i64 row = blockIdx.x;
  float mx = -KV_INF;
  for (int p = 0; p < parts; p++) mx = kv_max_nan(mx, partStat[2 * ((kv_i64)p * rows + row)]);
  float total = 0.0f;
  for (int p = 0; p < parts; p++) {
    const kv_i64 slot = (kv_i64)p * rows + row;
    if (partStat[2 * slot] != -KV_INF) total += partStat[2 * slot + 1] * expf(partStat[2 * slot] - mx);
  }
  const bool none = mx == -KV_INF || total == 0.0f;
  for (int c = threadIdx.x; c < dv; c += blockDim.x) {
    float value = 0.0f;
    if (!none) {
      for (int p = 0; p < parts; p++) {
        const kv_i64 slot = (kv_i64)p * rows + row;
        if (partStat[2 * slot] != -KV_INF) value += partAcc[slot * dv + c] * expf(partStat[2 * slot] - mx);
      }
      value /= total;
    }
    out[row * dv + c] = KvType<TQ>::store(value);
  }
  if (lse && threadIdx.x == 0) lse[row] = none ? -KV_INF : mx + logf(total);
}

#define KV_DECODE_MERGE(qn, TQ)                                                                                                     \
  extern "C" __global__ void kv_decode_merge_##qn(TQ* out, float* lse, const float* partAcc, const float* partStat, int rows, int parts, \
                                                  int dv) {                                                                         \
    decode_merge<TQ>(out, lse, partAcc, partStat, rows, parts, dv);                                                                 \
  }
KV_FOR_FLOAT_DTYPES(KV_DECODE_MERGE)
