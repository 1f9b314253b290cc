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
// over keys and values dequantized from packed codes as they are read; its 16-byte variant
// (kivi-vec-pass.cuh) reuses the 16-byte pass's phases below.
//
// This header holds pass 1 (both variants), the sources and the row mappings every split-K kernel
// shares; the kernels live in one module per feature, so a program compiles only what it launches
// with NVRTC: decode-attention.cu (dense, ragged, paged), kivi-decode.cu, prefix-decode.cu,
// key-statistics.cu, and merge.cu (pass 2, which every one of them needs).
#pragma once
#include "kvkit/prelude.cuh"
#include "kvkit/async-copy.cuh"
#include "kvkit/vec16.cuh"

#define DEC_WARPS 4
// Query rows per block (registers hold one partial dot product per row).
#define DEC_ROWS 8

__device__ __forceinline__ bool dec_visible(kv_i32 qp, kv_i32 kp, int causal, int window) {
  if (causal && kp > qp) return false;
  if (window > 0 && (kv_i64)qp - (kv_i64)kp >= window) return false;
  return true;
}

// Where token j of one KV row lives, in the terms every K/V-row source reduces to: a row index into
// K/V (consecutive from rowBase, or through a page table), its position (indexed by j from posBase,
// or by the row) and its log weight (by row). The 16-byte pass reads keys through this, so its body
// is compiled once per key dtype whatever the source.
struct DecKeyWalk {
  const kv_i32* pages;  // nullptr: rows are consecutive from rowBase
  int pageStride, pageSize;
  kv_i64 rowBase;
  const kv_i32* positions;
  kv_i64 posBase;
  int positionByRow;
  const float* logW;  // per row; nullptr: none
  __device__ __forceinline__ kv_i64 row(int j) const {
    return pages ? (kv_i64)pages[(kv_i64)(j / pageSize) * pageStride] * pageSize + j % pageSize : rowBase + j;
  }
  __device__ __forceinline__ kv_i32 position(int j, kv_i64 r) const { return positions[positionByRow ? r : posBase + j]; }
  __device__ __forceinline__ float logWeight(kv_i64 r) const { return logW ? logW[r] : 0.0f; }
};

// The generic pass's per-element reads, derived from a source's walk(kvh), so each row source says
// where its tokens live once. `layout` names the object holding K, V, d and dv.
#define DEC_READ_THROUGH_WALK(TK, layout)                                                                                          \
  __device__ __forceinline__ float key(int kvh, int j, int c) const { return KvType<TK>::load(layout.K[walk(kvh).row(j) * layout.d + c]); }  \
  __device__ __forceinline__ float value(int kvh, int j, int c) const { return KvType<TK>::load(layout.V[walk(kvh).row(j) * layout.dv + c]); } \
  __device__ __forceinline__ kv_i32 keyPosition(int kvh, int j) const {                                                          \
    const DecKeyWalk w = walk(kvh);                                                                                              \
    return w.position(j, w.row(j));                                                                                              \
  }                                                                                                                              \
  __device__ __forceinline__ float logWeight(int kvh, int j) const {                                                             \
    const DecKeyWalk w = walk(kvh);                                                                                              \
    return w.logWeight(w.row(j));                                                                                                \
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
  __device__ __forceinline__ DecKeyWalk walk(int kvh) const { return DecKeyWalk{nullptr, 0, 1, (kv_i64)kvh * n, kPos, 0, 0, logW}; }
  DEC_READ_THROUGH_WALK(TK, (*this))
  __device__ __forceinline__ kv_i32 queryPosition(int, int i) const { return qPos[i]; }
  __device__ __forceinline__ int length(int) const { return n; }
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
  __device__ __forceinline__ DecKeyWalk walk(int kvh) const {
    const int start = indptr[kvh / kvHeads];
    return DecKeyWalk{nullptr, 0, 1, (kv_i64)(kvh % kvHeads) * total + start, kPos, start, 0, logW};
  }
  DEC_READ_THROUGH_WALK(TK, (*this))
  __device__ __forceinline__ kv_i32 queryPosition(int kvh, int i) const { return qPos[(kv_i64)(kvh / kvHeads) * m + i]; }
  __device__ __forceinline__ int length(int kvh) const { return indptr[kvh / kvHeads + 1] - indptr[kvh / kvHeads]; }
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
  __device__ __forceinline__ DecKeyWalk walk(int kvh) const { return DecKeyWalk{table + (kv_i64)kvh * maxPages, 1, pageSize, 0, positions, 0, 1, nullptr}; }
  DEC_READ_THROUGH_WALK(TK, (*this))
  __device__ __forceinline__ kv_i32 queryPosition(int kvh, int i) const { return qPos[(kv_i64)(kvh / kvHeads) * m + i]; }
  __device__ __forceinline__ int length(int kvh) const { return lengths[kvh]; }
};

// Which query rows the block of KV row `kvh` serves, where they and their partial states live and
// which keys partition `part` covers. StandardRows: one sequence (or a batch folded into the KV
// rows): KV row kvh serves its `group` query heads × m queries, row rr = g·m + i; partition p of the
// row's keys goes to slot p·H·m + (kvh·group + g)·m + i. The prefix-shared kernels have their own.
struct StandardRows {
  int H, group, m, partition;
  __device__ __forceinline__ int count(int) const { return group * m; }
  __device__ __forceinline__ kv_i64 queryRow(int kvh, int rr) const { return (kv_i64)(kvh * group + rr / m) * m + rr % m; }
  template <class Source>
  __device__ __forceinline__ kv_i32 queryPosition(const Source& src, int kvh, int rr) const { return src.queryPosition(kvh, rr % m); }
  __device__ __forceinline__ kv_i64 slot(int part, int kvh, int rr) const { return (kv_i64)part * H * m + queryRow(kvh, rr); }
  // Keys [j0, j1) of the partition; false: the block has nothing to write.
  template <class Source>
  __device__ __forceinline__ bool keys(const Source& src, int part, int kvh, int& j0, int& j1) const {
    j0 = part * partition;
    j1 = min(src.length(kvh), j0 + partition);
    return true;
  }
};

// Shared memory: q [DEC_ROWS][d] (scaled), acc [DEC_WARPS][DEC_ROWS][dv], max/sum [DEC_WARPS][DEC_ROWS].
template <class TQ, class Source, class Rows>
__device__ void decode_partial_rows(float* partAcc, float* partStat, const TQ* Q, const Source src, const Rows rowMap, int d, int dv, float scale, int causal,
                                    int window, float softcap) {
  KV_DYNAMIC_SHARED(kv_decode_smem);
  float* q = reinterpret_cast<float*>(kv_decode_smem);
  float* acc = q + DEC_ROWS * d;
  float* wMax = acc + DEC_WARPS * DEC_ROWS * dv;
  float* wSum = wMax + DEC_WARPS * DEC_ROWS;

  const int part = blockIdx.x, kvh = blockIdx.y;
  const int rows = rowMap.count(kvh);
  const int r0 = blockIdx.z * DEC_ROWS;
  int j0 = 0, j1 = 0;
  if (r0 >= rows || !rowMap.keys(src, part, kvh, j0, j1)) return;  // block-uniform, before any barrier
  const int rc = min(DEC_ROWS, rows - r0);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  for (int e = threadIdx.x; e < rc * d; e += blockDim.x) q[e] = KvType<TQ>::load(Q[rowMap.queryRow(kvh, r0 + e / d) * d + e % d]) * scale;
  float* myAcc = acc + warp * DEC_ROWS * dv;
  for (int e = lane; e < DEC_ROWS * dv; e += 32) myAcc[e] = 0.0f;
  kv_i32 qp[DEC_ROWS];
  float runMax[DEC_ROWS], runSum[DEC_ROWS];
#pragma unroll
  for (int r = 0; r < DEC_ROWS; r++) {
    qp[r] = r < rc ? rowMap.queryPosition(src, kvh, r0 + r) : 0;
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
    const kv_i64 slot = rowMap.slot(part, kvh, r0 + r);
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

// ---- Pass 1 with 16-byte loads (dense, ragged, paged and pool sources) -----------------------------
// The loop above walks one key per warp at a time: a chain of dependent loads, shuffles and
// shared-memory updates per key, so it is latency-bound (8% of the copy bandwidth on an H200 at
// 32k keys). Here the block takes the partition in chunks of DEC_KEYS keys, in three phases
// separated by barriers, each a stream of independent 16-byte loads:
//   A. scores: d / N lanes per key (N elements per 16 bytes), DEC_UNROLL keys' loads issued before
//      any is used; the lanes' partial dot products meet by xor-shuffles; one lane writes the score;
//   B. per query row (a warp each): the chunk's max joins the running max, the scores become
//      probabilities, the running sum and the accumulators' rescale factor follow;
//   C. values: dv / N threads per value row, blockDim / (dv / N) key slices; each thread keeps
//      N channels of every query row in registers.
// At the end the slices' accumulators meet (shuffles inside a warp, shared memory across warps).
// Before phase A the chunk's row indices, key positions and log weights are read once, in parallel,
// into shared memory (the source's table lookups included), so no load in the phases waits on
// another. Shared memory is the generic pass's layout: q [DEC_ROWS][d], then the acc region holds
// the chunk's scores [DEC_ROWS][DEC_KEYS] (needs DEC_KEYS <= DEC_WARPS * dv) and at the end the
// warps' accumulators [DEC_WARPS][DEC_ROWS][dv], then the row states (max, sum, rescale: the
// generic pass's 2·DEC_WARPS·DEC_ROWS floats), then the chunk's rows (i64), positions and log weights.
#define DEC_KEYS 128
#define DEC_UNROLL 4
// Shared memory up to which the 16-byte pass also holds the chunk's value rows (split-k.ts sizes
// launches with the same rule): past it, consumer GPUs (99 KiB per block) could not launch it.
#define DEC_VALUE_TILE_LIMIT (96 * 1024)

__device__ __forceinline__ bool dec_power_of_two(int x) { return x > 0 && (x & (x - 1)) == 0; }

// Block-uniform: whether these rows can take the 16-byte path (every row starts 16-byte aligned
// when the bases are and rows hold whole groups of N elements).
template <class TK>
__device__ __forceinline__ bool dec_vectorizable(const TK* K, const TK* V, int d, int dv) {
  constexpr int N = KvVec16Lanes<TK>::E;
  return blockDim.x == DEC_WARPS * 32 && d % N == 0 && dv % N == 0 && dec_power_of_two(d / N) && d / N <= 32 && dec_power_of_two(dv / N) &&
         dv / N <= 32 && DEC_KEYS <= DEC_WARPS * dv && ((kv_u64)K & 15) == 0 && ((kv_u64)V & 15) == 0;
}

template <class TK>
__device__ __forceinline__ KvVec16 dec_load(const TK* row, int element) {
  return *reinterpret_cast<const KvVec16*>(row + element);
}

// What a pass needs of the block's (up to ROWS) query rows: how many, their positions and their
// partial slots.
template <int ROWS>
struct BlockRows {
  int count;
  kv_i32 position[ROWS];
  kv_i64 slot[ROWS];
};
typedef BlockRows<DEC_ROWS> DecBlockRows;

// Which query rows the block serves (blockIdx.x: partition, blockIdx.y: KV row, blockIdx.z: chunk
// of ROWS rows, as `rowMap` maps them): count, positions, partial slots, and the partition's keys
// [j0, j1). false (block-uniform, before any barrier): the block has nothing to write.
template <int ROWS, class Source, class Rows>
__device__ __forceinline__ bool dec_block_rows(const Source& src, const Rows& rowMap, BlockRows<ROWS>& rowsOf, int& j0, int& j1) {
  const int part = blockIdx.x, kvh = blockIdx.y;
  const int rows = rowMap.count(kvh);
  const int r0 = blockIdx.z * ROWS;
  if (r0 >= rows || !rowMap.keys(src, part, kvh, j0, j1)) return false;
  rowsOf.count = min(ROWS, rows - r0);
#pragma unroll
  for (int r = 0; r < ROWS; r++) {
    rowsOf.position[r] = r < rowsOf.count ? rowMap.queryPosition(src, kvh, r0 + r) : 0;
    rowsOf.slot[r] = r < rowsOf.count ? rowMap.slot(part, kvh, r0 + r) : 0;
  }
  return true;
}

// One key's scores for the block's query rows into scores[r][jj]: the mask, soft-cap and log weight
// applied, −∞ where the row does not see the key.
__device__ __forceinline__ void dec_store_scores(float* scores, int jj, const float* dot, kv_i32 kp, float lw, const kv_i32* qp, int rc, int causal, int window,
                                                 float softcap) {
#pragma unroll
  for (int r = 0; r < DEC_ROWS; r++) {
    if (r >= rc) continue;
    float sc = -KV_INF;
    if (dec_visible(qp[r], kp, causal, window)) {
      sc = dot[r];
      if (softcap > 0.0f) sc = softcap * tanhf(sc / softcap);
      sc += lw;
    }
    scores[r * DEC_KEYS + jj] = sc;
  }
}

// Phase A over keys [first, cn) of a chunk stored as rows of K (row index rowOf(jj)): d / N lanes per
// key, DEC_UNROLL keys' 16-byte loads issued before any is used, the lanes' partial dot products
// meet by xor-shuffles. keyLogW may be nullptr (no log weights).
template <class TK, class RowOf>
__device__ __forceinline__ void dec_score_rows(const TK* K, RowOf rowOf, int first, int cn, int d, const float* q, float* scores, const kv_i32* keyPos,
                                               const float* keyLogW, const kv_i32* qp, int rc, int causal, int window, float softcap) {
  constexpr int N = KvVec16Lanes<TK>::E;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int keyLanes = d / N, keysPerWarp = 32 / keyLanes, sub = lane / keyLanes, seg = lane % keyLanes;
  for (int step = first + warp * keysPerWarp; step < cn; step += DEC_WARPS * keysPerWarp * DEC_UNROLL) {  // warp-uniform
    const int base = step + sub;
    KvVec16 kr[DEC_UNROLL];
#pragma unroll
    for (int u = 0; u < DEC_UNROLL; u++) {
      const int jj = base + u * DEC_WARPS * keysPerWarp;
      if (jj < cn) kr[u] = dec_load(K + rowOf(jj) * d, seg * N);
      else kr[u] = KvVec16{{0u, 0u, 0u, 0u}};
    }
#pragma unroll
    for (int u = 0; u < DEC_UNROLL; u++) {
      const int jj = base + u * DEC_WARPS * keysPerWarp;
      float k[N];
      KvVec16Lanes<TK>::unpack(kr[u], k);
      float dot[DEC_ROWS];
#pragma unroll
      for (int r = 0; r < DEC_ROWS; r++) {
        dot[r] = 0.0f;
        if (r >= rc) continue;  // block-uniform
#pragma unroll
        for (int e = 0; e < N; e++) dot[r] += q[r * d + seg * N + e] * k[e];
        for (int o = keyLanes >> 1; o > 0; o >>= 1) dot[r] += __shfl_xor_sync(0xffffffffu, dot[r], o);
      }
      if (seg == 0 && jj < cn) dec_store_scores(scores, jj, dot, keyPos[jj], keyLogW ? keyLogW[jj] : 0.0f, qp, rc, causal, window, softcap);
    }
  }
}

// Phase B: per query row (a warp each), the chunk's max joins the running max, the scores become
// probabilities relative to it, and the running sum and the accumulators' rescale factor follow.
__device__ __forceinline__ void dec_chunk_probabilities(float* scores, float* rowMax, float* rowSum, float* rowScale, int rc, int cn) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int r = warp; r < rc; r += DEC_WARPS) {
    float mx = -KV_INF;
    for (int jj = lane; jj < cn; jj += 32) mx = kv_max_nan(mx, scores[r * DEC_KEYS + jj]);
    mx = kv_warp_max_nan(mx);
    const float old = rowMax[r];
    const float next = kv_max_nan(old, mx);
    float sum = 0.0f;
    for (int jj = lane; jj < cn; jj += 32) {
      const float p = next == -KV_INF ? 0.0f : expf(scores[r * DEC_KEYS + jj] - next);
      scores[r * DEC_KEYS + jj] = p;
      sum += p;
    }
    sum = kv_warp_sum(sum);
    if (lane == 0) {
      const float rescale = old == -KV_INF ? 0.0f : expf(old - next);  // NaN max: NaN from here on
      rowScale[r] = rescale;
      rowSum[r] = rowSum[r] * rescale + sum;
      rowMax[r] = next;
    }
  }
}

// The end of the pass: each thread holds N channels (segment threadIdx % valueLanes) of every query
// row over its slice of the keys; the slices of a warp meet by shuffles, the warps in shared memory
// (`region`, [DEC_WARPS][DEC_ROWS][dv]), and the block writes the partition's unnormalized output
// with its (max, Σ exp) per row.
template <int N>
__device__ __forceinline__ void dec_write_partials(float (&acc)[DEC_ROWS][N], float* region, const float* rowMax, const float* rowSum, const DecBlockRows& rowsOf,
                                                   int valueLanes, int dv, float* partAcc, float* partStat) {
  const int rc = rowsOf.count;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, vseg = threadIdx.x % valueLanes;
#pragma unroll
  for (int r = 0; r < DEC_ROWS; r++)
#pragma unroll
    for (int e = 0; e < N; e++)
      for (int o = valueLanes; o < 32; o <<= 1) acc[r][e] += __shfl_xor_sync(0xffffffffu, acc[r][e], o);
  if (lane < valueLanes) {
#pragma unroll
    for (int r = 0; r < DEC_ROWS; r++) {
      if (r >= rc) continue;
#pragma unroll
      for (int e = 0; e < N; e++) region[(warp * DEC_ROWS + r) * dv + vseg * N + e] = acc[r][e];
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < rc * dv; e += blockDim.x) {
    const int r = e / dv, c = e % dv;
    float a = 0.0f;
    for (int w = 0; w < DEC_WARPS; w++) a += region[(w * DEC_ROWS + r) * dv + c];
    partAcc[rowsOf.slot[r] * dv + c] = a;
  }
  if (threadIdx.x < rc) {
    const kv_i64 slot = rowsOf.slot[threadIdx.x];
    partStat[2 * slot] = rowMax[threadIdx.x];
    partStat[2 * slot + 1] = rowSum[threadIdx.x];
  }
}

// Phase C's first step: each row's accumulators times the factor phase B left for it (rows past
// the block's count keep theirs).
template <int N>
__device__ __forceinline__ void dec_rescale_rows(float (&acc)[DEC_ROWS][N], const float* rowScale, int rc) {
#pragma unroll
  for (int r = 0; r < DEC_ROWS; r++) {
    const float rescale = r < rc ? rowScale[r] : 1.0f;
#pragma unroll
    for (int e = 0; e < N; e++) acc[r][e] *= rescale;
  }
}

// Phase C's step per key: each row's accumulators plus its probability of tile key jj (from phase
// B, in `probs` [DEC_ROWS][DEC_KEYS]) times the key's N value channels v.
template <int N>
__device__ __forceinline__ void dec_add_value(float (&acc)[DEC_ROWS][N], const float* probs, int jj, const float* v, int rc) {
#pragma unroll
  for (int r = 0; r < DEC_ROWS; r++) {
    if (r >= rc) continue;  // block-uniform
    const float p = probs[r * DEC_KEYS + jj];
#pragma unroll
    for (int e = 0; e < N; e++) acc[r][e] += p * v[e];
  }
}

// Whether the 16-byte pass's blocks also hold a chunk's value rows [DEC_KEYS][dv] in shared memory,
// behind the generic pass's layout and the chunk's rows, positions and log weights.
template <class TK>
__device__ __forceinline__ bool dec_value_tile_fits(int d, int dv) {
  const int base = 4 * (DEC_ROWS * d + DEC_WARPS * DEC_ROWS * dv + 2 * DEC_WARPS * DEC_ROWS) + DEC_KEYS * (8 + 4 + 4);
  return base + DEC_KEYS * dv * (int)sizeof(TK) <= DEC_VALUE_TILE_LIMIT;
}

// The body, after the block's query rows are in shared memory. Not inlined and templated on the key
// dtype only: three copies serve every query dtype and source (inlined per kernel, the 16-byte pass
// tripled NVRTC's first compile of this module).
template <class TK>
__device__ __noinline__ void decode_partial_vec_body(const TK* K, const TK* V, float* partAcc, float* partStat, const DecKeyWalk walk, const DecBlockRows rowsOf,
                                                     int j0, int j1, int d, int dv, int causal, int window, float softcap) {
  constexpr int N = KvVec16Lanes<TK>::E;
  KV_DYNAMIC_SHARED(kv_decode_smem);
  float* q = reinterpret_cast<float*>(kv_decode_smem);
  float* region = q + DEC_ROWS * d;  // scores, then the warps' accumulators
  float* rowMax = region + DEC_WARPS * DEC_ROWS * dv;
  float* rowSum = rowMax + DEC_ROWS;
  float* rowScale = rowSum + DEC_ROWS;
  kv_i64* keyRows = reinterpret_cast<kv_i64*>(rowMax + 2 * DEC_WARPS * DEC_ROWS);
  kv_i32* keyPos = reinterpret_cast<kv_i32*>(keyRows + DEC_KEYS);
  float* keyLogW = reinterpret_cast<float*>(keyPos + DEC_KEYS);
  // The chunk's value rows, copied asynchronously while phases A and B run (when they fit).
  TK* valueTile = reinterpret_cast<TK*>(keyLogW + DEC_KEYS);
  const bool prefetchValues = dec_value_tile_fits<TK>(d, dv);

  const int rc = rowsOf.count;
  const int valueLanes = dv / N, slices = blockDim.x / valueLanes, slice = threadIdx.x / valueLanes, vseg = threadIdx.x % valueLanes;

  if (threadIdx.x < DEC_ROWS) {
    rowMax[threadIdx.x] = -KV_INF;
    rowSum[threadIdx.x] = 0.0f;
    rowScale[threadIdx.x] = 1.0f;
  }
  kv_i32 qp[DEC_ROWS];
  float acc[DEC_ROWS][N];
#pragma unroll
  for (int r = 0; r < DEC_ROWS; r++) {
    qp[r] = rowsOf.position[r];
#pragma unroll
    for (int e = 0; e < N; e++) acc[r][e] = 0.0f;
  }
  __syncthreads();

  for (int c0 = j0; c0 < j1; c0 += DEC_KEYS) {
    const int cn = min(DEC_KEYS, j1 - c0);
    int seen = 0;
    for (int t = threadIdx.x; t < cn; t += blockDim.x) {
      const kv_i64 r = walk.row(c0 + t);
      const kv_i32 kp = walk.position(c0 + t, r);
      keyRows[t] = r;
      keyPos[t] = kp;
      keyLogW[t] = walk.logWeight(r);
#pragma unroll
      for (int row = 0; row < DEC_ROWS; row++) seen |= row < rc && dec_visible(qp[row], kp, causal, window);
    }
    // A chunk no row can see (causal prefill: keys past every query of the block) leaves the rows'
    // states as they are; skip its loads and dot products. Block-uniform, so no barrier is skipped
    // by part of the block.
    if (!__syncthreads_or(seen)) continue;
    if (prefetchValues) {
      for (int x = threadIdx.x; x < cn * valueLanes; x += blockDim.x) {
        const int jj = x / valueLanes, part = x % valueLanes;
        cp_async16(smem_address(valueTile + jj * dv + part * N), V + keyRows[jj] * dv + part * N);
      }
      cp_async_commit();
    }
    dec_score_rows(K, [&](int jj) { return keyRows[jj]; }, 0, cn, d, q, region, keyPos, keyLogW, qp, rc, causal, window, softcap);
    __syncthreads();
    dec_chunk_probabilities(region, rowMax, rowSum, rowScale, rc, cn);
    if (prefetchValues) cp_async_wait<0>();
    __syncthreads();
    // C. acc[r] = acc[r] · rescale[r] + Σ_jj p[r][jj] · v[jj] over this thread's keys and channels
    dec_rescale_rows(acc, rowScale, rc);
    for (int base = slice; base < cn; base += slices * DEC_UNROLL) {
      KvVec16 vr[DEC_UNROLL];
#pragma unroll
      for (int u = 0; u < DEC_UNROLL; u++) {
        const int jj = base + u * slices;
        if (jj < cn) vr[u] = prefetchValues ? dec_load(valueTile + jj * dv, vseg * N) : dec_load(V + keyRows[jj] * dv, vseg * N);
      }
#pragma unroll
      for (int u = 0; u < DEC_UNROLL; u++) {
        const int jj = base + u * slices;
        if (jj >= cn) continue;
        float v[N];
        KvVec16Lanes<TK>::unpack(vr[u], v);
        dec_add_value(acc, region, jj, v, rc);
      }
    }
    __syncthreads();  // the next chunk overwrites the probabilities, the key rows and the value tile
  }
  dec_write_partials<N>(acc, region, rowMax, rowSum, rowsOf, valueLanes, dv, partAcc, partStat);
}

// The block's query rows (scaled) into shared memory q [DEC_ROWS][d], and what the body needs of
// them; false (block-uniform, before any barrier): the block has nothing to write.
template <class TQ, class Source, class Rows>
__device__ __forceinline__ bool dec_stage_rows(const TQ* Q, const Source& src, const Rows& rowMap, int d, float scale, DecBlockRows& rowsOf, int& j0, int& j1) {
  KV_DYNAMIC_SHARED(kv_decode_smem);
  float* q = reinterpret_cast<float*>(kv_decode_smem);
  if (!dec_block_rows<DEC_ROWS>(src, rowMap, rowsOf, j0, j1)) return false;
  const int kvh = blockIdx.y, r0 = blockIdx.z * DEC_ROWS;
  for (int e = threadIdx.x; e < rowsOf.count * d; e += blockDim.x) q[e] = KvType<TQ>::load(Q[rowMap.queryRow(kvh, r0 + e / d) * d + e % d]) * scale;
  return true;
}

// The 16-byte pass: the block's query rows into shared memory, then the body.
template <class TQ, class TK, class Source, class Rows>
__device__ void decode_partial_vec(const TK* K, const TK* V, float* partAcc, float* partStat, const TQ* Q, const Source src, const Rows rowMap, int d, int dv,
                                   float scale, int causal, int window, float softcap) {
  DecBlockRows rowsOf;
  int j0 = 0, j1 = 0;
  if (!dec_stage_rows<TQ>(Q, src, rowMap, d, scale, rowsOf, j0, j1)) return;
  decode_partial_vec_body<TK>(K, V, partAcc, partStat, src.walk(blockIdx.y), rowsOf, j0, j1, d, dv, causal, window, softcap);
}

// Pass 1 over K/V rows: the 16-byte path where the layout allows it, else the generic one.
template <class TQ, class TK, class Source, class Rows>
__device__ void decode_partial_rows_of(const TK* K, const TK* V, float* partAcc, float* partStat, const TQ* Q, const Source src, const Rows rowMap, int d, int dv,
                                       float scale, int causal, int window, float softcap) {
  if (dec_vectorizable<TK>(K, V, d, dv)) decode_partial_vec<TQ, TK>(K, V, partAcc, partStat, Q, src, rowMap, d, dv, scale, causal, window, softcap);
  else decode_partial_rows<TQ>(partAcc, partStat, Q, src, rowMap, d, dv, scale, causal, window, softcap);
}

template <class TQ, class TK, class Source>
__device__ void decode_partial(float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const Source src, int H, int Hkv, int m, int d, int dv,
                               int partition, float scale, int causal, int window, float softcap) {
  decode_partial_rows_of<TQ, TK>(K, V, partAcc, partStat, Q, src, StandardRows{H, H / Hkv, m, partition}, d, dv, scale, causal, window, softcap);
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
