// Per-key attention statistics from the rows' log-sum-exp, over the dense, paged, ragged and KIVI
// sources of split-k-pass.cuh.
#include "split-k-pass.cuh"

// Per-key statistics of the softmax probabilities (the second pass after the attention pass, given
// each query row's log-sum-exp), over the same sources. One thread per output cell (row, col) of
// [rows, width]: the target names the folded query head whose probabilities go there, its KV row
// and the key's index in it. For every contributing query i (i ≥ first) that sees the key,
// p = exp(score − lse[head, i]); keySum += weight[i] · p, keyMax = max p, rowProbs[row, i − firstRow]
// = p for the last rows; the threads of the first head of a group also count the contributing
// queries that see the key (queryCount [rows / group, width]). Rows that see no key (lse −∞) add
// nothing; cells past a KV row's length stay zero. Outputs start zeroed.
struct FoldedTarget {  // one sequence, or a batch folded into the heads (paged): row = folded query head
  int group;
  template <class Source>
  __device__ __forceinline__ bool locate(const Source& src, int row, int col, int& head, int& kvr, int& j) const {
    head = row;
    kvr = row / group;
    j = col;
    return col < src.length(kvr);
  }
};

struct RaggedTarget {  // [qHeads, total] in packed order: column col is request b's key col − indptr[b]
  const kv_i32* indptr;
  int batch, qHeads, kvHeads, group;
  template <class Source>
  __device__ __forceinline__ bool locate(const Source&, int row, int col, int& head, int& kvr, int& j) const {
    int lo = 0, hi = batch;  // the last request starting at or before col (empty ones share the next start)
    while (lo + 1 < hi) {
      const int mid = (lo + hi) / 2;
      if (indptr[mid] <= col) lo = mid;
      else hi = mid;
    }
    head = lo * qHeads + row;
    kvr = lo * kvHeads + row / group;
    j = col - indptr[lo];
    return true;
  }
};

template <class TQ, class Source, class Target>
__device__ void key_statistics(float* keySum, float* keyMax, float* queryCount, float* rowProbs, const TQ* Q, const float* lse, const float* weights,
                               const Source src, const Target target, int rows, int width, int group, int m, int d, float scale, int causal, int window,
                               float softcap, int first, int firstRow, int probRows) {
  KV_GRID_LOOP(e, (kv_i64)rows * width) {
    const int row = (int)(e / width), col = (int)(e % width);
    int head = 0, kvr = 0, j = 0;
    if (!target.locate(src, row, col, head, kvr, j)) continue;
    const kv_i32 kp = src.keyPosition(kvr, j);
    const float lw = src.logWeight(kvr, j);
    float sum = 0.0f, best = 0.0f, count = 0.0f;
    for (int i = first; i < m; i++) {
      if (!dec_visible(src.queryPosition(kvr, i), kp, causal, window)) continue;
      count += 1.0f;
      const float l = lse[(kv_i64)head * m + i];
      if (l == -KV_INF) continue;
      const TQ* qRow = Q + ((kv_i64)head * m + i) * d;
      float s = 0.0f;
      for (int c = 0; c < d; c++) s += KvType<TQ>::load(qRow[c]) * scale * src.key(kvr, j, c);
      if (softcap > 0.0f) s = softcap * tanhf(s / softcap);
      s += lw;
      const float p = expf(s - l);
      sum += weights[i] * p;
      if (p > best) best = p;
      if (rowProbs && i >= firstRow) rowProbs[((kv_i64)row * probRows + (i - firstRow)) * width + col] = p;
    }
    keySum[e] = sum;
    keyMax[e] = best;
    if (row % group == 0) queryCount[(kv_i64)(row / group) * width + col] = count;
  }
}

#define KV_STAT_PARAMS(TQ)                                                                                                              \
  float *keySum, float *keyMax, float *queryCount, float *rowProbs, const TQ *Q, const float *lse, const float *weights, int rows, int width, \
      int group, int m, int d, float scale, int causal, int window, float softcap, int first, int firstRow, int probRows
#define KV_STAT_ARGS(src, target) \
  keySum, keyMax, queryCount, rowProbs, Q, lse, weights, src, target, rows, width, group, m, d, scale, causal, window, softcap, first, firstRow, probRows

#define KV_DENSE_STATISTICS(qn, TQ, kn, TK)                                                                                              \
  extern "C" __global__ void kv_key_statistics_##qn##_##kn(KV_STAT_PARAMS(TQ), const TK* K, const kv_i32* qPos, const kv_i32* kPos,     \
                                                           const float* logW) {                                                        \
    const DenseSource<TK> src{K, nullptr, qPos, kPos, logW, width, d, 0};                                                              \
    key_statistics<TQ>(KV_STAT_ARGS(src, FoldedTarget{group}));                                                                        \
  }                                                                                                                                    \
  extern "C" __global__ void kv_paged_key_statistics_##qn##_##kn(KV_STAT_PARAMS(TQ), const TK* K, const kv_i32* positions,              \
                                                                 const kv_i32* table, const kv_i32* lengths, const kv_i32* qPos,         \
                                                                 int pageSize, int maxPages, int kvHeads) {                             \
    const PagedSource<TK> src{K, nullptr, positions, table, lengths, qPos, pageSize, maxPages, kvHeads, m, d, 0};                       \
    key_statistics<TQ>(KV_STAT_ARGS(src, FoldedTarget{group}));                                                                        \
  }                                                                                                                                    \
  extern "C" __global__ void kv_ragged_key_statistics_##qn##_##kn(KV_STAT_PARAMS(TQ), const TK* K, const kv_i32* qPos, const kv_i32* kPos, \
                                                                  const kv_i32* indptr, const float* logW, int total, int batch,          \
                                                                  int qHeads, int kvHeads) {                                             \
    const RaggedSource<TK> src{K, nullptr, qPos, kPos, indptr, logW, total, kvHeads, m, d, 0};                                          \
    key_statistics<TQ>(KV_STAT_ARGS(src, (RaggedTarget{indptr, batch, qHeads, kvHeads, group})));                                      \
  }
#define KV_DENSE_STATISTICS_K(qn, TQ) KV_DENSE_STATISTICS(qn, TQ, f32, float) KV_DENSE_STATISTICS(qn, TQ, f16, kv_f16) KV_DENSE_STATISTICS(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_DENSE_STATISTICS_K)

// Keys of a KIVI cache for the statistics pass (its values are never read).
#define KV_KIVI_STATISTICS(qn, TQ, sn, TS, rn, TR)                                                                                        \
  extern "C" __global__ void kv_kivi_key_statistics_##qn##_##sn##_##rn(KV_STAT_PARAMS(TQ), const kv_u32* keyCodes, const TS* keyScale,  \
                                                                       const TS* keyMin, const TR* residualKeys, const kv_i32* qPos,     \
                                                                       const kv_i32* kPos, int bits, int groupSize, int keyTokens,      \
                                                                       int keyGroupCap, int residualKeyCap) {                           \
    const KiviSource<TS, TR> src{keyCodes, keyScale, keyMin,    nullptr,     nullptr, nullptr,     residualKeys, nullptr, qPos, kPos, bits, \
                                 groupSize, 1,      d,         width,       keyTokens, 0,      keyGroupCap,  0,       residualKeyCap, 0};  \
    key_statistics<TQ>(KV_STAT_ARGS(src, FoldedTarget{group}));                                                                          \
  }
#define KV_KIVI_STATISTICS_R(qn, TQ, sn, TS) KV_KIVI_STATISTICS(qn, TQ, sn, TS, f32, float) KV_KIVI_STATISTICS(qn, TQ, sn, TS, f16, kv_f16)
#define KV_KIVI_STATISTICS_S(qn, TQ) KV_KIVI_STATISTICS_R(qn, TQ, f32, float) KV_KIVI_STATISTICS_R(qn, TQ, f16, kv_f16)
KV_FOR_FLOAT_DTYPES(KV_KIVI_STATISTICS_S)
