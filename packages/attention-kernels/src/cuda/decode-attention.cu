// Split-K decode attention over dense, ragged (packed varlen) and paged K/V: pass 1 kernels
// (split-k-pass.cuh has the pass and the sources); kv_decode_merge_* (merge.cu) is pass 2. The
// *_mma_* kernels are pass 1 on tensor cores (mma-decode-pass.cuh; *_mma_prefill_*: mma-prefill-pass.cuh)
// for f16/bf16 K/V of the head dims they serve, 16-byte aligned; decode-attention.ts picks them where they apply.
#include "split-k-pass.cuh"
#include "mma-decode-pass.cuh"
#include "mma-prefill-pass.cuh"

#define KV_DECODE_PARTIAL(qn, TQ, kn, TK)                                                                                              \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_decode_partial_##qn##_##kn(                                        \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* qPos, const kv_i32* kPos, const float* logW, \
      int H, int Hkv, int m, int n, int d, int dv, int partition, float scale, int causal, int window, float softcap) {                 \
    const DenseSource<TK> src{K, V, qPos, kPos, logW, n, d, dv};                                                                     \
    decode_partial<TQ, TK>(partAcc, partStat, Q, K, V, src, H, Hkv, m, d, dv, partition, scale, causal, window, softcap);                      \
  }
#define KV_DECODE_PARTIAL_KV(qn, TQ) KV_DECODE_PARTIAL(qn, TQ, f32, float) KV_DECODE_PARTIAL(qn, TQ, f16, kv_f16) KV_DECODE_PARTIAL(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_DECODE_PARTIAL_KV)

#define KV_PAGED_PARTIAL(qn, TQ, kn, TK)                                                                                                  \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_paged_decode_partial_##qn##_##kn(                                     \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* positions, const kv_i32* table,               \
      const kv_i32* lengths, const kv_i32* qPos, int H, int Hkv, int m, int d, int dv, int partition, float scale, int causal, int window, \
      float softcap, int pageSize, int maxPages, int kvHeads) {                                                                           \
    const PagedSource<TK> src{K, V, positions, table, lengths, qPos, pageSize, maxPages, kvHeads, m, d, dv};                             \
    decode_partial<TQ, TK>(partAcc, partStat, Q, K, V, src, H, Hkv, m, d, dv, partition, scale, causal, window, softcap);                        \
  }
#define KV_PAGED_PARTIAL_KV(qn, TQ) KV_PAGED_PARTIAL(qn, TQ, f32, float) KV_PAGED_PARTIAL(qn, TQ, f16, kv_f16) KV_PAGED_PARTIAL(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_PAGED_PARTIAL_KV)

#define KV_RAGGED_PARTIAL(qn, TQ, kn, TK)                                                                                                  \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_ragged_decode_partial_##qn##_##kn(                                     \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* qPos, const kv_i32* kPos, const kv_i32* indptr, \
      const float* logW, int H, int Hkv, int m, int d, int dv, int partition, float scale, int causal, int window, float softcap, int total, \
      int kvHeads) {                                                                                                                       \
    const RaggedSource<TK> src{K, V, qPos, kPos, indptr, logW, total, kvHeads, m, d, dv};                                                 \
    decode_partial<TQ, TK>(partAcc, partStat, Q, K, V, src, H, Hkv, m, d, dv, partition, scale, causal, window, softcap);                           \
  }
#define KV_RAGGED_PARTIAL_KV(qn, TQ) KV_RAGGED_PARTIAL(qn, TQ, f32, float) KV_RAGGED_PARTIAL(qn, TQ, f16, kv_f16) KV_RAGGED_PARTIAL(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_RAGGED_PARTIAL_KV)

// Pass 1 on tensor cores: the same arguments as the kernels above, f16/bf16 K/V only. Two passes
// per source: `mma` (mma-decode-pass.cuh, blocks of 16 query rows) and `mma_prefill`
// (mma-prefill-pass.cuh, blocks of 64 rows sharing each K/V tile), both 4 warps, 2 blocks per SM.
#define KV_DECODE_MMA_PARTIAL(pass, fn, qn, TQ, kn, TK)                                                                                \
  extern "C" __global__ void __launch_bounds__(MMA_DEC_WARPS * 32, 2) kv_decode_##pass##_partial_##qn##_##kn(                           \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* qPos, const kv_i32* kPos, const float* logW, \
      int H, int Hkv, int m, int n, int d, int dv, int partition, float scale, int causal, int window, float softcap) {                 \
    const DenseSource<TK> src{K, V, qPos, kPos, logW, n, d, dv};                                                                     \
    fn<TQ, TK>(K, V, partAcc, partStat, Q, src, StandardRows{H, H / Hkv, m, partition}, d, dv, scale, causal, window, softcap);          \
  }

#define KV_PAGED_MMA_PARTIAL(pass, fn, qn, TQ, kn, TK)                                                                                    \
  extern "C" __global__ void __launch_bounds__(MMA_DEC_WARPS * 32, 2) kv_paged_decode_##pass##_partial_##qn##_##kn(                       \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* positions, const kv_i32* table,               \
      const kv_i32* lengths, const kv_i32* qPos, int H, int Hkv, int m, int d, int dv, int partition, float scale, int causal, int window, \
      float softcap, int pageSize, int maxPages, int kvHeads) {                                                                           \
    const PagedSource<TK> src{K, V, positions, table, lengths, qPos, pageSize, maxPages, kvHeads, m, d, dv};                             \
    fn<TQ, TK>(K, V, partAcc, partStat, Q, src, StandardRows{H, H / Hkv, m, partition}, d, dv, scale, causal, window, softcap);              \
  }

#define KV_RAGGED_MMA_PARTIAL(pass, fn, qn, TQ, kn, TK)                                                                                    \
  extern "C" __global__ void __launch_bounds__(MMA_DEC_WARPS * 32, 2) kv_ragged_decode_##pass##_partial_##qn##_##kn(                       \
      float* partAcc, float* partStat, const TQ* Q, const TK* K, const TK* V, const kv_i32* qPos, const kv_i32* kPos, const kv_i32* indptr, \
      const float* logW, int H, int Hkv, int m, int d, int dv, int partition, float scale, int causal, int window, float softcap, int total, \
      int kvHeads) {                                                                                                                       \
    const RaggedSource<TK> src{K, V, qPos, kPos, indptr, logW, total, kvHeads, m, d, dv};                                                 \
    fn<TQ, TK>(K, V, partAcc, partStat, Q, src, StandardRows{H, H / Hkv, m, partition}, d, dv, scale, causal, window, softcap);               \
  }

#define KV_MMA_PARTIALS(qn, TQ, kn, TK)                                              \
  KV_DECODE_MMA_PARTIAL(mma, mma_decode_partial, qn, TQ, kn, TK)                     \
  KV_DECODE_MMA_PARTIAL(mma_prefill, mma_prefill_partial, qn, TQ, kn, TK)            \
  KV_PAGED_MMA_PARTIAL(mma, mma_decode_partial, qn, TQ, kn, TK)                      \
  KV_PAGED_MMA_PARTIAL(mma_prefill, mma_prefill_partial, qn, TQ, kn, TK)             \
  KV_RAGGED_MMA_PARTIAL(mma, mma_decode_partial, qn, TQ, kn, TK)                     \
  KV_RAGGED_MMA_PARTIAL(mma_prefill, mma_prefill_partial, qn, TQ, kn, TK)
#define KV_MMA_PARTIALS_KV(qn, TQ) KV_MMA_PARTIALS(qn, TQ, f16, kv_f16) KV_MMA_PARTIALS(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_MMA_PARTIALS_KV)
