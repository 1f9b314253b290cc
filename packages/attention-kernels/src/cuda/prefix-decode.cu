// ChunkAttention's prefix-shared decode: pass 1 over a page pool through the prefix tree's runs of
// shared chunks and each request's own chunks (split-k-pass.cuh has the pass).
#include "split-k-pass.cuh"

// ChunkAttention's two-phase decode over a prefix tree stored in a page pool (pages of P tokens
// of one KV head). Output row (request b, query head h, query i) = (b·qHeads + h)·m + i of q
// [B, qHeads, m, d]; every row has its partial slots (the runs of shared chunks on its request's
// path, then groups of its own chunks; src/gpu/prefix-launch.ts), merged afterwards by kv_decode_merge_*.
template <class TK>
struct PoolPages {
  const TK* K;
  const TK* V;
  const kv_i32* positions;
  int pageSize, d, dv;
};

// Token j of KV row kvh, read from the pool page at entry j / pageSize of the table
// `Pages::pageTable(kvh, stride)` names.
template <class TK, class Pages>
struct PoolSource {
  PoolPages<TK> pool;
  Pages pages;
  __device__ __forceinline__ DecKeyWalk walk(int kvh) const {
    int stride = 1;
    const kv_i32* table = pages.pageTable(kvh, stride);
    return DecKeyWalk{table, stride, pool.pageSize, 0, pool.positions, 0, 1, nullptr};
  }
  DEC_READ_THROUGH_WALK(TK, pool)
};

// Phase 1 (chunk-first): KV row kvh = r·kvHeads + head is run r of shared chunks (consecutive,
// full, with the same users; chunks runStarts[r] … runStarts[r+1] − 1) for that head.
struct SharedRunPages {
  const kv_i32* chunkPages;  // [S, kvHeads]
  const kv_i32* runStarts;   // [R + 1]
  int kvHeads;
  // The run's pages as a table: its i-th page at table[i · stride].
  __device__ __forceinline__ const kv_i32* pageTable(int kvh, int& stride) const {
    stride = kvHeads;
    return chunkPages + (kv_i64)runStarts[kvh / kvHeads] * kvHeads + kvh % kvHeads;
  }
};

// The rows of a run: every user's query rows, u·group·m + g·m + i (user u of the users list of the
// run's first chunk), so the run is read once for all of them; the partial goes to the run's slot.
struct SharedRunRows {
  const kv_i32* chunkCounts;
  const kv_i32* usersIndptr;
  const kv_i32* users;
  const kv_i32* runStarts;
  const kv_i32* runSlots;
  const kv_i32* qPos;  // [B, m]
  int rowsTotal, qHeads, kvHeads, group, m, pageSize;
  __device__ __forceinline__ int run(int kvh) const { return kvh / kvHeads; }
  __device__ __forceinline__ int firstChunk(int kvh) const { return runStarts[run(kvh)]; }
  __device__ __forceinline__ int user(int kvh, int rr) const { return users[usersIndptr[firstChunk(kvh)] + rr / (group * m)]; }
  __device__ __forceinline__ int count(int kvh) const { return (usersIndptr[firstChunk(kvh) + 1] - usersIndptr[firstChunk(kvh)]) * group * m; }
  __device__ __forceinline__ kv_i64 queryRow(int kvh, int rr) const {
    return ((kv_i64)user(kvh, rr) * qHeads + (kvh % kvHeads) * group + (rr / m) % group) * m + rr % m;
  }
  template <class Source>
  __device__ __forceinline__ kv_i32 queryPosition(const Source&, int kvh, int rr) const { return qPos[(kv_i64)user(kvh, rr) * m + rr % m]; }
  __device__ __forceinline__ kv_i64 slot(int, int kvh, int rr) const { return (kv_i64)runSlots[run(kvh)] * rowsTotal + queryRow(kvh, rr); }
  template <class Source>
  __device__ __forceinline__ bool keys(const Source&, int, int kvh, int& j0, int& j1) const {
    const int last = runStarts[run(kvh) + 1] - 1;
    j0 = 0;
    j1 = (last - firstChunk(kvh)) * pageSize + chunkCounts[last];
    return true;
  }
};

// Phase 2 (sequence-first): KV row kvh = b·kvHeads + head walks request b's own pages.
struct OwnChunkPages {
  const kv_i32* ownTable;  // [B, kvHeads, maxOwn]
  int maxOwn;
  __device__ __forceinline__ const kv_i32* pageTable(int kvh, int& stride) const {
    stride = 1;
    return ownTable + (kv_i64)kvh * maxOwn;
  }
};

// Partition p of request b's KV row is slot p: own tokens [(p − ownStart[b])·partition, +partition)
// (slots before ownStart are phase 1's and skipped; slots past the request's path get an empty state).
struct OwnChunkRows {
  const kv_i32* ownLengths;
  const kv_i32* ownStart;
  const kv_i32* qPos;
  int rowsTotal, qHeads, kvHeads, group, m, partition;
  __device__ __forceinline__ int request(int kvh) const { return kvh / kvHeads; }
  __device__ __forceinline__ int count(int) const { return group * m; }
  __device__ __forceinline__ kv_i64 queryRow(int kvh, int rr) const { return ((kv_i64)request(kvh) * qHeads + (kvh % kvHeads) * group + rr / m) * m + rr % m; }
  template <class Source>
  __device__ __forceinline__ kv_i32 queryPosition(const Source&, int kvh, int rr) const { return qPos[(kv_i64)request(kvh) * m + rr % m]; }
  __device__ __forceinline__ kv_i64 slot(int part, int kvh, int rr) const { return (kv_i64)part * rowsTotal + queryRow(kvh, rr); }
  template <class Source>
  __device__ __forceinline__ bool keys(const Source&, int part, int kvh, int& j0, int& j1) const {
    const int first = ownStart[request(kvh)];
    if (part < first) return false;
    const int length = ownLengths[request(kvh)];
    j0 = min(length, (part - first) * partition);
    j1 = min(length, j0 + partition);
    return true;
  }
};

#define KV_PREFIX_PARTIALS(qn, TQ, kn, TK)                                                                                                  \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_prefix_shared_partial_##qn##_##kn(                                      \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* positions, const kv_i32* chunkPages,            \
      const kv_i32* chunkCounts, const kv_i32* usersIndptr, const kv_i32* users, const kv_i32* runStarts, const kv_i32* runSlots,          \
      const kv_i32* qPos, int batch, int qHeads, int kvHeads, int m, int d, int dv, int pageSize, float scale, int causal, int window,     \
      float softcap) {                                                                                                                     \
    const PoolSource<TK, SharedRunPages> src{PoolPages<TK>{K, V, positions, pageSize, d, dv}, SharedRunPages{chunkPages, runStarts, kvHeads}}; \
    const SharedRunRows rows{chunkCounts, usersIndptr, users, runStarts, runSlots, qPos, batch * qHeads * m, qHeads, kvHeads, qHeads / kvHeads, m, pageSize}; \
    decode_partial_rows_of<TQ, TK>(K, V, partAcc, partStat, Q, src, rows, d, dv, scale, causal, window, softcap);                                      \
  }                                                                                                                                        \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_prefix_own_partial_##qn##_##kn(                                         \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* positions, const kv_i32* ownTable,              \
      const kv_i32* ownLengths, const kv_i32* ownStart, const kv_i32* qPos, int batch, int qHeads, int kvHeads, int m, int d, int dv,       \
      int pageSize, int maxOwn, int partition, float scale, int causal, int window, float softcap) {                                       \
    const PoolSource<TK, OwnChunkPages> src{PoolPages<TK>{K, V, positions, pageSize, d, dv}, OwnChunkPages{ownTable, maxOwn}};              \
    const OwnChunkRows rows{ownLengths, ownStart, qPos, batch * qHeads * m, qHeads, kvHeads, qHeads / kvHeads, m, partition};               \
    decode_partial_rows_of<TQ, TK>(K, V, partAcc, partStat, Q, src, rows, d, dv, scale, causal, window, softcap);                                      \
  }
#define KV_PREFIX_PARTIALS_KV(qn, TQ) KV_PREFIX_PARTIALS(qn, TQ, f32, float) KV_PREFIX_PARTIALS(qn, TQ, f16, kv_f16) KV_PREFIX_PARTIALS(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_PREFIX_PARTIALS_KV)
