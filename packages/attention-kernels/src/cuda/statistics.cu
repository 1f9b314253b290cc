// Pass 2 of attentionStatistics: per-key statistics of the softmax probabilities, given each
// query row's log-sum-exp from pass 1 (the split-K decode with lse). One thread per (query head h,
// key j): for every contributing query i (i ≥ first) that sees key j, p = exp(score − lse[h, i]);
// keySum[h, j] += weight[i] · p, keyMax[h, j] = max p, rowProbs[h, i − firstRow, j] = p for the
// last rows; the threads of the first head of a group also count the contributing queries that can
// see key j (queryCount[kvh, j]). Rows that see no key (lse −∞) add nothing. Outputs start zeroed.
#include "kvkit/prelude.cuh"

__device__ __forceinline__ bool stat_visible(kv_i32 qp, kv_i32 kp, int causal, int window) {
  if (causal && kp > qp) return false;
  if (window > 0 && (kv_i64)qp - (kv_i64)kp >= window) return false;
  return true;
}

template <class TQ, class TK>
__device__ void key_statistics(float* keySum, float* keyMax, float* queryCount, float* rowProbs, const TQ* Q, const TK* K, const kv_i32* qPos,
                               const kv_i32* kPos, const float* logW, const float* lse, const float* weights, int H, int Hkv, int m, int n, int d,
                               float scale, int causal, int window, float softcap, int first, int firstRow, int probRows) {
  KV_GRID_LOOP(e, (kv_i64)H * n) {
    const int h = (int)(e / n), j = (int)(e % n);
    const int group = H / Hkv, kvh = h / group;
    const kv_i32 kp = kPos[j];
    const TK* kRow = K + ((kv_i64)kvh * n + j) * d;
    float sum = 0.0f, best = 0.0f, count = 0.0f;
    for (int i = first; i < m; i++) {
      if (!stat_visible(qPos[i], kp, causal, window)) continue;
      count += 1.0f;
      const float l = lse[(kv_i64)h * m + i];
      if (l == -KV_INF) continue;
      const TQ* qRow = Q + ((kv_i64)h * m + i) * d;
      float s = 0.0f;
      for (int c = 0; c < d; c++) s += KvType<TQ>::load(qRow[c]) * scale * KvType<TK>::load(kRow[c]);
      if (softcap > 0.0f) s = softcap * tanhf(s / softcap);
      if (logW) s += logW[(kv_i64)kvh * n + j];
      const float p = expf(s - l);
      sum += weights[i] * p;
      if (p > best) best = p;
      if (rowProbs && i >= firstRow) rowProbs[((kv_i64)h * probRows + (i - firstRow)) * n + j] = p;
    }
    keySum[e] = sum;
    keyMax[e] = best;
    if (h % group == 0) queryCount[(kv_i64)kvh * n + j] = count;
  }
}

#define KV_KEY_STATISTICS(qn, TQ, kn, TK)                                                                                                \
  extern "C" __global__ void kv_key_statistics_##qn##_##kn(float* keySum, float* keyMax, float* queryCount, float* rowProbs, const TQ* Q, \
                                                           const TK* K, const kv_i32* qPos, const kv_i32* kPos, const float* logW,           \
                                                           const float* lse, const float* weights, int H, int Hkv, int m, int n, int d,     \
                                                           float scale, int causal, int window, float softcap, int first, int firstRow,     \
                                                           int probRows) {                                                                   \
    key_statistics<TQ, TK>(keySum, keyMax, queryCount, rowProbs, Q, K, qPos, kPos, logW, lse, weights, H, Hkv, m, n, d, scale, causal,      \
                           window, softcap, first, firstRow, probRows);                                                                     \
  }
#define KV_KEY_STATISTICS_K(qn, TQ) KV_KEY_STATISTICS(qn, TQ, f32, float) KV_KEY_STATISTICS(qn, TQ, f16, kv_f16) KV_KEY_STATISTICS(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_KEY_STATISTICS_K)
