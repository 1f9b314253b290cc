// Split-K decode attention (flash-decoding) for one sequence with grouped-query heads:
// q [H, m, d], k [Hkv, n, d], v [Hkv, n, dv], positions qPos [m], kPos [n], optional per-key log
// weights [Hkv, n] → out [H, m, dv] (+ lse [H, m]). Same semantics as the CPU kernel: causal /
// sliding-window masks on positions, soft-cap, then log weights; a row that sees no key outputs
// zeros and lse −∞.
//
// Pass 1 (kv_decode_partial_*): one block per (partition of keys, KV head, chunk of query rows).
// The query rows of a KV head (its `group` query heads × m queries) share the block, so each K/V
// row is read from memory once per partition, not once per query head. Each of the DEC_WARPS warps
// walks every DEC_WARPS-th key of the partition with its own online softmax (lanes split the head
// dimension); the warps then merge and the block writes the partition's unnormalized output with
// its (max, Σ exp) per row. Pass 2 (kv_decode_merge_*): one block per output row merges the
// partitions by log-sum-exp. The fused KIVI decode (kv_kivi_decode_partial_*) is the same pass 1
// over keys and values dequantized from packed codes as they are read.
#include "kvkit/prelude.cuh"

#define DEC_WARPS 4
// Query rows per block (registers hold one partial dot product per row).
#define DEC_ROWS 8

__device__ __forceinline__ bool dec_visible(kv_i32 qp, kv_i32 kp, int causal, int window) {
  if (causal && kp > qp) return false;
  if (window > 0 && (kv_i64)qp - (kv_i64)kp >= window) return false;
  return true;
}

// Where the keys and values come from: a dense [Hkv, n, ·] pair, or a KIVI cache (KiviSource below).
// A source also says where positions come from and how many tokens KV row `kvh` holds.
template <class TK>
struct DenseSource {
  const TK* K;
  const TK* V;
  const kv_i32* qPos;
  const kv_i32* kPos;
  const float* logW;
  int n, d, dv;
  __device__ __forceinline__ float key(int kvh, int j, int c) const { return KvType<TK>::load(K[((kv_i64)kvh * n + j) * d + c]); }
  __device__ __forceinline__ float value(int kvh, int j, int c) const { return KvType<TK>::load(V[((kv_i64)kvh * n + j) * dv + c]); }
  __device__ __forceinline__ kv_i32 keyPosition(int, int j) const { return kPos[j]; }
  __device__ __forceinline__ kv_i32 queryPosition(int, int i) const { return qPos[i]; }
  __device__ __forceinline__ int length(int) const { return n; }
  __device__ __forceinline__ float logWeight(int kvh, int j) const { return logW ? logW[(kv_i64)kvh * n + j] : 0.0f; }
};

// A batch of requests with their K/V packed along the tokens (ragged, FlashInfer/vLLM varlen):
// KV row kvh = b·kvHeads + head reads rows [indptr[b], indptr[b+1]) of that head.
template <class TK>
struct RaggedSource {
  const TK* K;
  const TK* V;
  const kv_i32* qPos;
  const kv_i32* kPos;
  const kv_i32* indptr;
  const float* logW;
  int total, kvHeads, m, d, dv;
  __device__ __forceinline__ kv_i64 row(int kvh, int j) const { return (kv_i64)(kvh % kvHeads) * total + indptr[kvh / kvHeads] + j; }
  __device__ __forceinline__ float key(int kvh, int j, int c) const { return KvType<TK>::load(K[row(kvh, j) * d + c]); }
  __device__ __forceinline__ float value(int kvh, int j, int c) const { return KvType<TK>::load(V[row(kvh, j) * dv + c]); }
  __device__ __forceinline__ kv_i32 keyPosition(int kvh, int j) const { return kPos[indptr[kvh / kvHeads] + j]; }
  __device__ __forceinline__ kv_i32 queryPosition(int kvh, int i) const { return qPos[(kv_i64)(kvh / kvHeads) * m + i]; }
  __device__ __forceinline__ int length(int kvh) const { return indptr[kvh / kvHeads + 1] - indptr[kvh / kvHeads]; }
  __device__ __forceinline__ float logWeight(int kvh, int j) const { return logW ? logW[row(kvh, j)] : 0.0f; }
};

// A paged pool read through per-(request, KV head) block tables: KV row kvh = b·kvHeads + head
// walks pages table[kvh][·] of P slots; the queries of request b have positions qPos[b][·].
template <class TK>
struct PagedSource {
  const TK* K;
  const TK* V;
  const kv_i32* positions;
  const kv_i32* table;
  const kv_i32* lengths;
  const kv_i32* qPos;
  int pageSize, maxPages, kvHeads, m, d, dv;
  __device__ __forceinline__ kv_i64 slot(int kvh, int j) const {
    return (kv_i64)table[(kv_i64)kvh * maxPages + j / pageSize] * pageSize + j % pageSize;
  }
  __device__ __forceinline__ float key(int kvh, int j, int c) const { return KvType<TK>::load(K[slot(kvh, j) * d + c]); }
  __device__ __forceinline__ float value(int kvh, int j, int c) const { return KvType<TK>::load(V[slot(kvh, j) * dv + c]); }
  __device__ __forceinline__ kv_i32 keyPosition(int kvh, int j) const { return positions[slot(kvh, j)]; }
  __device__ __forceinline__ kv_i32 queryPosition(int kvh, int i) const { return qPos[(kv_i64)(kvh / kvHeads) * m + i]; }
  __device__ __forceinline__ int length(int kvh) const { return lengths[kvh]; }
  __device__ __forceinline__ float logWeight(int, int) const { return 0.0f; }
};

// Shared memory: q [DEC_ROWS][d] (scaled), acc [DEC_WARPS][DEC_ROWS][dv], max/sum [DEC_WARPS][DEC_ROWS].
template <class TQ, class Source>
__device__ void decode_partial(float* partAcc, float* partStat, const TQ* Q, const Source src, int H, int Hkv, int m, int d, int dv, int partition, float scale, int causal, int window,
                               float softcap) {
  KV_DYNAMIC_SHARED(kv_decode_smem);
  float* q = reinterpret_cast<float*>(kv_decode_smem);
  float* acc = q + DEC_ROWS * d;
  float* wMax = acc + DEC_WARPS * DEC_ROWS * dv;
  float* wSum = wMax + DEC_WARPS * DEC_ROWS;

  const int part = blockIdx.x, kvh = blockIdx.y;
  const int group = H / Hkv;
  const int rows = group * m;  // rows of this KV head: r = g·m + i → query head kvh·group + g, query i
  const int r0 = blockIdx.z * DEC_ROWS;
  const int rc = min(DEC_ROWS, rows - r0);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int j0 = part * partition, j1 = min(src.length(kvh), j0 + partition);

  for (int e = threadIdx.x; e < rc * d; e += blockDim.x) {
    const int r = r0 + e / d, c = e % d;
    const int h = kvh * group + r / m, i = r % m;
    q[e] = KvType<TQ>::load(Q[((kv_i64)h * m + i) * d + c]) * scale;
  }
  float* myAcc = acc + warp * DEC_ROWS * dv;
  for (int e = lane; e < DEC_ROWS * dv; e += 32) myAcc[e] = 0.0f;
  kv_i32 qp[DEC_ROWS];
  float runMax[DEC_ROWS], runSum[DEC_ROWS];
#pragma unroll
  for (int r = 0; r < DEC_ROWS; r++) {
    qp[r] = r < rc ? src.queryPosition(kvh, (r0 + r) % m) : 0;
    runMax[r] = -KV_INF;
    runSum[r] = 0.0f;
  }
  __syncthreads();

  for (int j = j0 + warp; j < j1; j += DEC_WARPS) {
    const kv_i32 kp = src.keyPosition(kvh, j);
    bool any = false;
#pragma unroll
    for (int r = 0; r < DEC_ROWS; r++) any |= r < rc && dec_visible(qp[r], kp, causal, window);
    if (!any) continue;  // warp-uniform: every lane sees the same positions
    float dot[DEC_ROWS];
#pragma unroll
    for (int r = 0; r < DEC_ROWS; r++) dot[r] = 0.0f;
    for (int c = lane; c < d; c += 32) {
      const float kc = src.key(kvh, j, c);
#pragma unroll
      for (int r = 0; r < DEC_ROWS; r++)
        if (r < rc) dot[r] += q[r * d + c] * kc;
    }
    const float lw = src.logWeight(kvh, j);
    float p[DEC_ROWS], rescale[DEC_ROWS];
#pragma unroll
    for (int r = 0; r < DEC_ROWS; r++) {
      p[r] = 0.0f;
      rescale[r] = 1.0f;
      if (r >= rc) continue;  // block-uniform, so the shuffles below stay convergent
      float s = kv_warp_sum(dot[r]);
      if (!dec_visible(qp[r], kp, causal, window)) continue;
      if (softcap > 0.0f) s = softcap * tanhf(s / softcap);
      s += lw;
      if (s > runMax[r] || kv_isnan(s)) {
        rescale[r] = runMax[r] == -KV_INF ? 0.0f : expf(runMax[r] - s);  // NaN s: NaN from here on
        runSum[r] *= rescale[r];
        runMax[r] = s;
      }
      p[r] = expf(s - runMax[r]);
      runSum[r] += p[r];
    }
    for (int c = lane; c < dv; c += 32) {
      const float vc = src.value(kvh, j, c);
#pragma unroll
      for (int r = 0; r < DEC_ROWS; r++)
        if (r < rc) myAcc[r * dv + c] = myAcc[r * dv + c] * rescale[r] + p[r] * vc;
    }
  }
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < DEC_ROWS; r++) {
      wMax[warp * DEC_ROWS + r] = runMax[r];
      wSum[warp * DEC_ROWS + r] = runSum[r];
    }
  }
  __syncthreads();

  // Merge the warps' states of each row and write the partition's (max, sum, unnormalized output).
  for (int r = 0; r < rc; r++) {
    float mx = -KV_INF;
    for (int w = 0; w < DEC_WARPS; w++) mx = kv_max_nan(mx, wMax[w * DEC_ROWS + r]);
    const int rr = r0 + r;
    const kv_i64 row = (kv_i64)(kvh * group + rr / m) * m + rr % m;  // output row h·m + i
    const kv_i64 slot = (kv_i64)part * H * m + row;
    for (int c = threadIdx.x; c < dv; c += blockDim.x) {
      float a = 0.0f;
      for (int w = 0; w < DEC_WARPS; w++) {
        const float wm = wMax[w * DEC_ROWS + r];
        if (wm != -KV_INF) a += acc[(w * DEC_ROWS + r) * dv + c] * expf(wm - mx);
      }
      partAcc[slot * dv + c] = a;
    }
    if (threadIdx.x == 0) {
      float sum = 0.0f;
      for (int w = 0; w < DEC_WARPS; w++) {
        const float wm = wMax[w * DEC_ROWS + r];
        if (wm != -KV_INF) sum += wSum[w * DEC_ROWS + r] * expf(wm - mx);
      }
      partStat[2 * slot] = mx;
      partStat[2 * slot + 1] = sum;
    }
  }
}

// A KIVI cache (packages/attention-kernels/src/formats/kivi.ts), dequantized as it is read: keys per
// channel in groups of `groupSize` tokens (code · scale + min), values per token in groups of
// `valueGroupSize` channels; the newest tokens come from the full-precision residual buffers.
// Codes use tensor-core's packed layout: 32/bits codes per u32 word, low bits first, each group
// starting on a new word.
template <class TS, class TR>
struct KiviSource {
  const kv_u32* keyCodes;
  const TS* keyScale;
  const TS* keyMin;
  const kv_u32* valueCodes;
  const TS* valueScale;
  const TS* valueMin;
  const TR* residualKeys;
  const TR* residualValues;
  const kv_i32* qPos;
  const kv_i32* kPos;
  int bits, groupSize, valueGroupSize, d, n, keyTokens, valueTokens, keyGroupCap, valueTokenCap, residualKeyCap, residualValueCap;

  __device__ __forceinline__ kv_i32 keyPosition(int, int j) const { return kPos[j]; }
  __device__ __forceinline__ kv_i32 queryPosition(int, int i) const { return qPos[i]; }
  __device__ __forceinline__ int length(int) const { return n; }
  __device__ __forceinline__ float logWeight(int, int) const { return 0.0f; }

  __device__ __forceinline__ kv_u32 code(const kv_u32* words, kv_i64 rowWord, int i) const {
    const int perWord = 32 / bits;
    return (words[rowWord + i / perWord] >> ((i % perWord) * bits)) & ((1u << bits) - 1u);
  }
  __device__ __forceinline__ float key(int kvh, int j, int c) const {
    if (j >= keyTokens) return KvType<TR>::load(residualKeys[((kv_i64)kvh * residualKeyCap + (j - keyTokens)) * d + c]);
    const int perWord = 32 / bits;
    const int g = j / groupSize;
    const kv_i64 row = ((kv_i64)kvh * keyGroupCap + g) * d + c;
    const kv_u32 q = code(keyCodes, row * ((groupSize + perWord - 1) / perWord), j - g * groupSize);
    return (float)q * KvType<TS>::load(keyScale[row]) + KvType<TS>::load(keyMin[row]);
  }
  __device__ __forceinline__ float value(int kvh, int j, int c) const {
    if (j >= valueTokens) return KvType<TR>::load(residualValues[((kv_i64)kvh * residualValueCap + (j - valueTokens)) * d + c]);
    const int perWord = 32 / bits;
    const int groupWords = (valueGroupSize + perWord - 1) / perWord;
    const int groups = d / valueGroupSize;
    const int vg = c / valueGroupSize;
    const kv_i64 row = (kv_i64)kvh * valueTokenCap + j;
    const kv_u32 q = code(valueCodes, row * groups * groupWords + vg * groupWords, c - vg * valueGroupSize);
    return (float)q * KvType<TS>::load(valueScale[row * groups + vg]) + KvType<TS>::load(valueMin[row * groups + vg]);
  }
};

#define KV_KIVI_PARTIAL(qn, TQ, sn, TS, rn, TR)                                                                                          \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_kivi_decode_partial_##qn##_##sn##_##rn(                              \
      float* partAcc, float* partStat, const TQ* Q, const kv_u32* keyCodes, const TS* keyScale, const TS* keyMin, const kv_u32* valueCodes, \
      const TS* valueScale, const TS* valueMin, const TR* residualKeys, const TR* residualValues, const kv_i32* qPos, const kv_i32* kPos,    \
      int H, int Hkv, int m, int n, int d, int partition, float scale, int causal, int window, float softcap, int bits, int groupSize,       \
      int valueGroupSize, int keyTokens, int valueTokens, int keyGroupCap, int valueTokenCap, int residualKeyCap, int residualValueCap) {   \
    const KiviSource<TS, TR> src{keyCodes,       keyScale,   keyMin,      valueCodes,  valueScale,  valueMin,      residualKeys,   \
                                 residualValues, qPos,       kPos,        bits,        groupSize,   valueGroupSize, d,              \
                                 n,              keyTokens,  valueTokens, keyGroupCap, valueTokenCap, residualKeyCap, residualValueCap}; \
    decode_partial<TQ>(partAcc, partStat, Q, src, H, Hkv, m, d, d, partition, scale, causal, window, softcap);                \
  }
#define KV_KIVI_PARTIAL_R(qn, TQ, sn, TS) KV_KIVI_PARTIAL(qn, TQ, sn, TS, f32, float) KV_KIVI_PARTIAL(qn, TQ, sn, TS, f16, kv_f16)
#define KV_KIVI_PARTIAL_S(qn, TQ) KV_KIVI_PARTIAL_R(qn, TQ, f32, float) KV_KIVI_PARTIAL_R(qn, TQ, f16, kv_f16)
KV_FOR_FLOAT_DTYPES(KV_KIVI_PARTIAL_S)

#define KV_PAGED_PARTIAL(qn, TQ, kn, TK)                                                                                                  \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_paged_decode_partial_##qn##_##kn(                                     \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* positions, const kv_i32* table,               \
      const kv_i32* lengths, const kv_i32* qPos, int H, int Hkv, int m, int d, int dv, int partition, float scale, int causal, int window, \
      float softcap, int pageSize, int maxPages, int kvHeads) {                                                                           \
    const PagedSource<TK> src{K, V, positions, table, lengths, qPos, pageSize, maxPages, kvHeads, m, d, dv};                             \
    decode_partial<TQ>(partAcc, partStat, Q, src, H, Hkv, m, d, dv, partition, scale, causal, window, softcap);                        \
  }
#define KV_PAGED_PARTIAL_KV(qn, TQ) KV_PAGED_PARTIAL(qn, TQ, f32, float) KV_PAGED_PARTIAL(qn, TQ, f16, kv_f16) KV_PAGED_PARTIAL(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_PAGED_PARTIAL_KV)

#define KV_RAGGED_PARTIAL(qn, TQ, kn, TK)                                                                                                  \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_ragged_decode_partial_##qn##_##kn(                                     \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* qPos, const kv_i32* kPos, const kv_i32* indptr, \
      const float* logW, int H, int Hkv, int m, int d, int dv, int partition, float scale, int causal, int window, float softcap, int total, \
      int kvHeads) {                                                                                                                       \
    const RaggedSource<TK> src{K, V, qPos, kPos, indptr, logW, total, kvHeads, m, d, dv};                                                 \
    decode_partial<TQ>(partAcc, partStat, Q, src, H, Hkv, m, d, dv, partition, scale, causal, window, softcap);                           \
  }
#define KV_RAGGED_PARTIAL_KV(qn, TQ) KV_RAGGED_PARTIAL(qn, TQ, f32, float) KV_RAGGED_PARTIAL(qn, TQ, f16, kv_f16) KV_RAGGED_PARTIAL(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_RAGGED_PARTIAL_KV)

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

#define KV_DECODE_PARTIAL(qn, TQ, kn, TK)                                                                                              \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_decode_partial_##qn##_##kn(                                        \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* qPos, const kv_i32* kPos, const float* logW, \
      int H, int Hkv, int m, int n, int d, int dv, int partition, float scale, int causal, int window, float softcap) {                 \
    const DenseSource<TK> src{K, V, qPos, kPos, logW, n, d, dv};                                                                     \
    decode_partial<TQ>(partAcc, partStat, Q, src, H, Hkv, m, d, dv, partition, scale, causal, window, softcap);                      \
  }
#define KV_DECODE_PARTIAL_KV(qn, TQ) KV_DECODE_PARTIAL(qn, TQ, f32, float) KV_DECODE_PARTIAL(qn, TQ, f16, kv_f16) KV_DECODE_PARTIAL(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_DECODE_PARTIAL_KV)

#define KV_DECODE_MERGE(qn, TQ)                                                                                                     \
  extern "C" __global__ void kv_decode_merge_##qn(TQ* out, float* lse, const float* partAcc, const float* partStat, int rows, int parts, \
                                                  int dv) {                                                                         \
    decode_merge<TQ>(out, lse, partAcc, partStat, rows, parts, dv);                                                                 \
  }
KV_FOR_FLOAT_DTYPES(KV_DECODE_MERGE)
