// The fused KIVI decode: pass 1 over keys and values dequantized from packed codes as they are read;
// kv_decode_merge_* (merge.cu) is pass 2. Three pass-1 kernels, the host (kivi-mma-plan.ts,
// kivi-vec-plan.ts) picks: kv_kivi_decode_mma_partial (kivi-mma-pass.cuh: tensor cores, codes
// turned into f16 fragments) for the shapes it serves, else kv_kivi_decode_vec_partial
// (kivi-vec-pass.cuh: 16-byte loads, codes unpacked in registers), else kv_kivi_decode_partial_*
// (the generic per-key loop over KiviSource, split-k-pass.cuh).
#include "kivi-mma-pass.cuh"

#define KV_KIVI_PARTIAL(qn, TQ, sn, TS, rn, TR)                                                                                          \
  extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) kv_kivi_decode_partial_##qn##_##sn##_##rn(                              \
      float* partAcc, float* partStat, const TQ* Q, const kv_u32* keyCodes, const TS* keyScale, const TS* keyMin, const kv_u32* valueCodes, \
      const TS* valueScale, const TS* valueMin, const TR* residualKeys, const TR* residualValues, const kv_i32* qPos, const kv_i32* kPos,    \
      int H, int Hkv, int m, int n, int d, int partition, float scale, int causal, int window, float softcap, int bits, int groupSize,       \
      int valueGroupSize, int keyTokens, int valueTokens, int keyGroupCap, int valueTokenCap, int residualKeyCap, int residualValueCap) {   \
    const KiviSource<TS, TR> src{keyCodes,       keyScale,   keyMin,      valueCodes,  valueScale,  valueMin,      residualKeys,   \
                                 residualValues, qPos,       kPos,        bits,        groupSize,   valueGroupSize, d,              \
                                 n,              keyTokens,  valueTokens, keyGroupCap, valueTokenCap, residualKeyCap, residualValueCap}; \
    decode_partial_rows<TQ>(partAcc, partStat, Q, src, StandardRows{H, H / Hkv, m, partition}, d, d, scale, causal, window, softcap);                \
  }
#define KV_KIVI_PARTIAL_R(qn, TQ, sn, TS) KV_KIVI_PARTIAL(qn, TQ, sn, TS, f32, float) KV_KIVI_PARTIAL(qn, TQ, sn, TS, f16, kv_f16)
#define KV_KIVI_PARTIAL_S(qn, TQ) KV_KIVI_PARTIAL_R(qn, TQ, f32, float) KV_KIVI_PARTIAL_R(qn, TQ, f16, kv_f16)
KV_FOR_FLOAT_DTYPES(KV_KIVI_PARTIAL_S)

// The same arguments; the query, scale and residual dtypes are flags (KIVI_QUERY_*, scaleF16, residualF16).
extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32, KIVI_MIN_BLOCKS) kv_kivi_decode_vec_partial(
    float* partAcc, float* partStat, const void* Q, const kv_u32* keyCodes, const void* keyScale, const void* keyMin, const kv_u32* valueCodes,
    const void* valueScale, const void* valueMin, const void* residualKeys, const void* residualValues, const kv_i32* qPos, const kv_i32* kPos, int H, int Hkv,
    int m, int n, int d, int partition, float scale, int causal, int window, float softcap, int bits, int groupSize, int valueGroupSize, int keyTokens,
    int valueTokens, int keyGroupCap, int valueTokenCap, int residualKeyCap, int residualValueCap, int queryDtype, int scaleF16, int residualF16) {
  const KiviVecSource src{keyCodes, keyScale,  keyMin,      valueCodes, valueScale,  valueMin,      residualKeys,   residualValues,
                          qPos,     kPos,      scaleF16,    residualF16, bits,       groupSize,     valueGroupSize, d,
                          n,        keyTokens, valueTokens, keyGroupCap, valueTokenCap, residualKeyCap, residualValueCap};
  kivi_decode_partial_vec(partAcc, partStat, Q, queryDtype, src, StandardRows{H, H / Hkv, m, partition}, scale, causal, window, softcap);
}

// The 16-byte kernel's arguments plus the ring's stage count (2 or 3); blocks of MMA_DEC_ROWS rows
// (grid z = ⌈group·m / 16⌉).
extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32, KIVI_MMA_MIN_BLOCKS) kv_kivi_decode_mma_partial(
    float* partAcc, float* partStat, const void* Q, const kv_u32* keyCodes, const void* keyScale, const void* keyMin, const kv_u32* valueCodes,
    const void* valueScale, const void* valueMin, const void* residualKeys, const void* residualValues, const kv_i32* qPos, const kv_i32* kPos, int H, int Hkv,
    int m, int n, int d, int partition, float scale, int causal, int window, float softcap, int bits, int groupSize, int valueGroupSize, int keyTokens,
    int valueTokens, int keyGroupCap, int valueTokenCap, int residualKeyCap, int residualValueCap, int queryDtype, int scaleF16, int residualF16, int stages) {
  const KiviVecSource src{keyCodes, keyScale,  keyMin,      valueCodes, valueScale,  valueMin,      residualKeys,   residualValues,
                          qPos,     kPos,      scaleF16,    residualF16, bits,       groupSize,     valueGroupSize, d,
                          n,        keyTokens, valueTokens, keyGroupCap, valueTokenCap, residualKeyCap, residualValueCap};
  kivi_decode_partial_mma(partAcc, partStat, Q, queryDtype, src, StandardRows{H, H / Hkv, m, partition}, scale, causal, window, softcap, stages);
}
