// Pass 1 of the fused KIVI decode with 16-byte loads: the dense 16-byte pass's structure (chunks
// of keys, scores → probabilities → values, split-K partials merged by merge.cu) over a KIVI cache
// (KiviSource in split-k-pass.cuh), codes unpacked in registers instead of one code per load.
//
// A tile is up to DEC_KEYS tokens ending on a key-group boundary. Per tile:
//   S. staging, by the whole block, 16-byte loads with DEC_UNROLL in flight per thread: the packed
//      key codes of the tile's groups (one contiguous run in the cache; each group KIVI_GROUP_PAD
//      words apart in shared memory so that neighbouring groups fall on other banks), the groups'
//      per-channel scales and minimums as f32, the packed value codes of the tile's quantized value
//      tokens (contiguous too) with their per-token scales and minimums, and the key positions;
//   A. scores of quantized keys: a thread takes a quad of 4 consecutive tokens of one group (their
//      codes share a word) and a quarter of the channels; it reads each channel's word once, unpacks
//      the 4 codes, dequantizes them with the channel's scale and minimum and adds them into all
//      query rows' dot products; the quarters meet by two xor-shuffles and each of the quad's four
//      lanes finishes one token. Residual (full-precision) keys go through the dense pass's loop.
//   B. probabilities: the dense pass's phase B;
//   C. values: a thread keeps KIVI_VALUE_CHANNELS channels of every query row over a slice of the
//      tile's tokens; a quantized token's 8 codes come out of one word (two at 8 bits), residual
//      values are read with 16-byte loads.
// The end (slices and warps meeting, the partials written) is the dense pass's.
//
// The host (kivi-vec-plan.ts) picks this pass only for shapes it serves: head dim 16–128 (power of
// two), key groups of a multiple of 4 tokens up to DEC_KEYS, value groups of a multiple of 8
// channels, 16-byte aligned residual buffers; it sizes the shared memory with the same layout.
#pragma once
#include "split-k-pass.cuh"

#define KIVI_VALUE_CHANNELS 8
#define KIVI_GROUP_PAD 4
#define KIVI_QUAD 4
// Blocks per SM the 16-byte KIVI kernels are compiled for: caps registers at 168 (unbounded, ptxas took 236,
// two blocks per SM); at 168 nothing spills.
#define KIVI_MIN_BLOCKS 3

struct alignas(16) KiviFloat4 {
  float v[4];
};

// Offsets (in 4-byte words from the dynamic shared base) of what a block keeps; kivi-vec-plan.ts
// computes the same total.
struct KiviSharedLayout {
  int tileGroups, groupWords, groupStride, valueWords, valueGroups;
  int q, region, rowState, keyPos, keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, total;
};

__device__ __forceinline__ int kivi_round4(int words) { return (words + 3) & ~3; }

__device__ __forceinline__ KiviSharedLayout kivi_shared_layout(int d, int bits, int groupSize, int valueGroupSize) {
  const int perWord = 32 / bits;
  KiviSharedLayout L;
  L.tileGroups = DEC_KEYS / groupSize;
  L.groupWords = (groupSize + perWord - 1) / perWord;
  L.groupStride = d * L.groupWords + KIVI_GROUP_PAD;
  L.valueGroups = d / valueGroupSize;
  L.valueWords = L.valueGroups * ((valueGroupSize + perWord - 1) / perWord);
  L.q = 0;
  L.region = L.q + DEC_ROWS * d;
  L.rowState = L.region + max(DEC_ROWS * DEC_KEYS, DEC_WARPS * DEC_ROWS * d);
  L.keyPos = L.rowState + 2 * DEC_WARPS * DEC_ROWS;
  L.keyCodes = L.keyPos + DEC_KEYS;
  L.keyScale = L.keyCodes + kivi_round4(L.tileGroups * L.groupStride);
  L.keyMin = L.keyScale + kivi_round4(L.tileGroups * d);
  L.valueCodes = L.keyMin + kivi_round4(L.tileGroups * d);
  L.valueScale = L.valueCodes + kivi_round4(DEC_KEYS * L.valueWords);
  L.valueMin = L.valueScale + kivi_round4(DEC_KEYS * L.valueGroups);
  L.total = L.valueMin + kivi_round4(DEC_KEYS * L.valueGroups);
  return L;
}

// A code (< 2^23) as f32 without the int-to-float conversion, which runs at 1/8 of the FMA rate: the
// code's bits under the exponent of 2^23 make the float 2^23 + code exactly; subtracting 2^23 is exact.
__device__ __forceinline__ float kivi_code_to_float(kv_u32 code) { return __int_as_float((int)(0x4b000000u | code)) - 8388608.0f; }

// `runs` runs of `run` words, consecutive in global memory, into shared memory `dstStride` words
// apart: 16-byte loads when the addresses allow (else words), DEC_UNROLL loads in flight per thread.
__device__ __forceinline__ void kivi_stage_words(kv_u32* dst, int dstStride, const kv_u32* src, int run, int runs) {
  const bool vectors = ((kv_u64)src & 15) == 0 && run % 4 == 0 && dstStride % 4 == 0;
  const int unit = vectors ? 4 : 1;
  const int perRun = run / unit, total = perRun * runs;
  for (int x0 = threadIdx.x; x0 < total; x0 += DEC_UNROLL * blockDim.x) {
    KvVec16 v[DEC_UNROLL];
#pragma unroll
    for (int u = 0; u < DEC_UNROLL; u++) {
      const int x = x0 + u * blockDim.x;
      if (x >= total) continue;
      const kv_u32* from = src + (kv_i64)(x / perRun) * run + (x % perRun) * unit;
      if (vectors) v[u] = *reinterpret_cast<const KvVec16*>(from);
      else v[u].w[0] = *from;
    }
#pragma unroll
    for (int u = 0; u < DEC_UNROLL; u++) {
      const int x = x0 + u * blockDim.x;
      if (x >= total) continue;
      kv_u32* to = dst + (x / perRun) * dstStride + (x % perRun) * unit;
      if (vectors) *reinterpret_cast<KvVec16*>(to) = v[u];
      else *to = v[u].w[0];
    }
  }
}

// `count` f16 or f32 numbers from element `first` of src into shared memory as f32.
__device__ __forceinline__ void kivi_stage_floats(float* dst, const void* src, bool f16, kv_i64 first, int count) {
  if (f16) {
#pragma unroll 4
    for (int i = threadIdx.x; i < count; i += blockDim.x) dst[i] = KvType<kv_f16>::load(static_cast<const kv_f16*>(src)[first + i]);
  } else {
#pragma unroll 4
    for (int i = threadIdx.x; i < count; i += blockDim.x) dst[i] = static_cast<const float*>(src)[first + i];
  }
}

// 8 consecutive channels of a full-precision row as f32, by 16-byte loads.
template <class T>
__device__ __forceinline__ void kivi_load_channels(const T* row, int channel, float* out) {
  constexpr int N = KvVec16Lanes<T>::E;
#pragma unroll
  for (int h = 0; h < KIVI_VALUE_CHANNELS / N; h++) KvVec16Lanes<T>::unpack(dec_load(row, channel + h * N), out + h * N);
}

// Phase A over the quantized keys [c0, k1) of a tile, whose groups from `firstGroup` on are staged
// (codes groupStride words apart, scales and minimums d apart). Quad index = token / 4: groups hold
// whole quads, and a quad's 4 codes lie in one word (a word holds 4, 8 or 16 codes).
__device__ __forceinline__ void kivi_score_quads(const kv_u32* codes, const float* scale, const float* minimum, const KiviSharedLayout& L, int firstGroup, int c0,
                                                 int k1, int groupSize, int bits, int d, const float* q, float* scores, const kv_i32* keyPos, const kv_i32* qp, int rc,
                                                 int causal, int window, float softcap) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, quarter = lane & 3;
  const int perWord = 32 / bits;
  const kv_u32 mask = (1u << bits) - 1u;
  const int q1 = (k1 + KIVI_QUAD - 1) / KIVI_QUAD;
  for (int base = c0 / KIVI_QUAD + warp * 8; base < q1; base += DEC_WARPS * 8) {  // warp-uniform: 8 quads per warp
    const int quad = base + (lane >> 2);
    const bool active = quad < q1;
    const int token0 = quad * KIVI_QUAD;
    const int g = token0 / groupSize, t0 = token0 - g * groupSize;
    float dot[DEC_ROWS][KIVI_QUAD];
#pragma unroll
    for (int r = 0; r < DEC_ROWS; r++)
#pragma unroll
      for (int t = 0; t < KIVI_QUAD; t++) dot[r][t] = 0.0f;
    if (active) {
      const kv_u32* words = codes + (g - firstGroup) * L.groupStride + t0 / perWord;
      const int shift = (t0 % perWord) * bits;
      const float* gScale = scale + (g - firstGroup) * d;
      const float* gMin = minimum + (g - firstGroup) * d;
      for (int c4 = quarter * 4; c4 < d; c4 += 16) {
        const KiviFloat4 s = *reinterpret_cast<const KiviFloat4*>(gScale + c4);
        const KiviFloat4 mn = *reinterpret_cast<const KiviFloat4*>(gMin + c4);
        float k[4][KIVI_QUAD];  // [channel][token]
#pragma unroll
        for (int i = 0; i < 4; i++) {
          const kv_u32 w = words[(c4 + i) * L.groupWords] >> shift;
#pragma unroll
          for (int t = 0; t < KIVI_QUAD; t++) k[i][t] = kivi_code_to_float((w >> (t * bits)) & mask) * s.v[i] + mn.v[i];
        }
#pragma unroll
        for (int r = 0; r < DEC_ROWS; r++) {
          if (r >= rc) continue;  // block-uniform
          const KiviFloat4 qr = *reinterpret_cast<const KiviFloat4*>(q + r * d + c4);
#pragma unroll
          for (int i = 0; i < 4; i++)
#pragma unroll
            for (int t = 0; t < KIVI_QUAD; t++) dot[r][t] += qr.v[i] * k[i][t];
        }
      }
    }
    float mine[DEC_ROWS];  // the quarter's own token: token0 + quarter
#pragma unroll
    for (int r = 0; r < DEC_ROWS; r++) {
      if (r >= rc) continue;
#pragma unroll
      for (int t = 0; t < KIVI_QUAD; t++) {
        dot[r][t] += __shfl_xor_sync(0xffffffffu, dot[r][t], 1);
        dot[r][t] += __shfl_xor_sync(0xffffffffu, dot[r][t], 2);
      }
      mine[r] = quarter == 0 ? dot[r][0] : quarter == 1 ? dot[r][1] : quarter == 2 ? dot[r][2] : dot[r][3];
    }
    const int j = token0 + quarter;
    if (active && j >= c0 && j < k1) dec_store_scores(scores, j - c0, mine, keyPos[j - c0], 0.0f, qp, rc, causal, window, softcap);
  }
}

// A KIVI cache as the 16-byte pass reads it (KiviSource's fields), with the dtypes of the scales and
// of the residual as flags instead of template parameters: ptxas compiles a callee once per kernel
// that reaches it, so the pass is one kernel (query dtype a flag too) rather than riding in all
// twelve (query, scale, residual) kernels of the generic loop.
struct KiviVecSource {
  const kv_u32* keyCodes;
  const void* keyScale;
  const void* keyMin;
  const kv_u32* valueCodes;
  const void* valueScale;
  const void* valueMin;
  const void* residualKeys;
  const void* residualValues;
  const kv_i32* qPos;
  const kv_i32* kPos;
  int scaleF16, residualF16;
  int bits, groupSize, valueGroupSize, d, n, keyTokens, valueTokens, keyGroupCap, valueTokenCap, residualKeyCap, residualValueCap;
  __device__ __forceinline__ kv_i32 queryPosition(int, int i) const { return qPos[i]; }
  __device__ __forceinline__ int length(int) const { return n; }
};

// The body, after the block's query rows are in shared memory; one copy per residual dtype TR (with
// the residual's dtype a run-time flag too, ptxas spilled 540 bytes at the 168-register bound).
template <class TR>
__device__ __noinline__ void kivi_decode_vec_body(const KiviVecSource& src, float* partAcc, float* partStat, const DecBlockRows& rowsOf, int j0, int j1, int causal,
                                                  int window, float softcap) {
  constexpr int N = KIVI_VALUE_CHANNELS;
  const int kvh = blockIdx.y, d = src.d, bits = src.bits, groupSize = src.groupSize;
  const KiviSharedLayout L = kivi_shared_layout(d, bits, groupSize, src.valueGroupSize);
  KV_DYNAMIC_SHARED(kv_decode_smem);
  float* smem = reinterpret_cast<float*>(kv_decode_smem);
  const float* q = smem + L.q;
  float* region = smem + L.region;  // scores, then the warps' accumulators
  float* rowMax = smem + L.rowState;
  float* rowSum = rowMax + DEC_ROWS;
  float* rowScale = rowSum + DEC_ROWS;
  kv_i32* qp = reinterpret_cast<kv_i32*>(rowScale + DEC_ROWS);  // the query rows' positions (registers are the scarce resource)
  kv_i32* keyPos = reinterpret_cast<kv_i32*>(smem + L.keyPos);
  kv_u32* keyCodes = reinterpret_cast<kv_u32*>(smem + L.keyCodes);
  float* keyScale = smem + L.keyScale;
  float* keyMin = smem + L.keyMin;
  kv_u32* valueCodes = reinterpret_cast<kv_u32*>(smem + L.valueCodes);
  float* valueScale = smem + L.valueScale;
  float* valueMin = smem + L.valueMin;

  const int rc = rowsOf.count;
  const int valueLanes = d / N, slices = blockDim.x / valueLanes, slice = threadIdx.x / valueLanes, vseg = threadIdx.x % valueLanes;
  // This thread's 8 value channels: value group vg, code index i0 inside it; where they sit in a token's words.
  const int perWord = 32 / bits;
  const kv_u32 mask = (1u << bits) - 1u;
  const int vg = vseg * N / src.valueGroupSize, i0 = vseg * N - vg * src.valueGroupSize;
  const int valueWord = vg * (L.valueWords / L.valueGroups) + i0 / perWord, valueShift = (i0 % perWord) * bits;

  if (threadIdx.x < DEC_ROWS) {
    rowMax[threadIdx.x] = -KV_INF;
    rowSum[threadIdx.x] = 0.0f;
    rowScale[threadIdx.x] = 1.0f;
    qp[threadIdx.x] = rowsOf.position[threadIdx.x];
  }
  float acc[DEC_ROWS][N];
#pragma unroll
  for (int r = 0; r < DEC_ROWS; r++)
#pragma unroll
    for (int e = 0; e < N; e++) acc[r][e] = 0.0f;

  for (int c0 = j0; c0 < j1;) {
    const int c1 = min(j1, (c0 / groupSize + L.tileGroups) * groupSize);
    const int cn = c1 - c0;
    const int k1 = min(c1, src.keyTokens), v1 = min(c1, src.valueTokens);  // quantized: keys [c0, k1), values [c0, v1)
    const int firstGroup = c0 / groupSize;
    // S.
    if (k1 > c0) {
      const int groups = (k1 - 1) / groupSize - firstGroup + 1;
      const kv_i64 group0 = (kv_i64)kvh * src.keyGroupCap + firstGroup;
      kivi_stage_words(keyCodes, L.groupStride, src.keyCodes + group0 * d * L.groupWords, d * L.groupWords, groups);
      kivi_stage_floats(keyScale, src.keyScale, src.scaleF16, group0 * d, groups * d);
      kivi_stage_floats(keyMin, src.keyMin, src.scaleF16, group0 * d, groups * d);
    }
    if (v1 > c0) {
      const kv_i64 token0 = (kv_i64)kvh * src.valueTokenCap + c0;
      kivi_stage_words(valueCodes, 0, src.valueCodes + token0 * L.valueWords, (v1 - c0) * L.valueWords, 1);
      kivi_stage_floats(valueScale, src.valueScale, src.scaleF16, token0 * L.valueGroups, (v1 - c0) * L.valueGroups);
      kivi_stage_floats(valueMin, src.valueMin, src.scaleF16, token0 * L.valueGroups, (v1 - c0) * L.valueGroups);
    }
    for (int t = threadIdx.x; t < cn; t += blockDim.x) keyPos[t] = src.kPos[c0 + t];
    __syncthreads();
    // A.
    if (k1 > c0) kivi_score_quads(keyCodes, keyScale, keyMin, L, firstGroup, c0, k1, groupSize, bits, d, q, region, keyPos, qp, rc, causal, window, softcap);
    const kv_i64 residualKey0 = (kv_i64)kvh * src.residualKeyCap - src.keyTokens + c0;  // residual row of tile key jj: residualKey0 + jj
    const auto residualRow = [&](int jj) { return residualKey0 + jj; };
    const int firstResidual = max(k1, c0) - c0;
    dec_score_rows(static_cast<const TR*>(src.residualKeys), residualRow, firstResidual, cn, d, q, region, keyPos, nullptr, qp, rc, causal, window, softcap);
    __syncthreads();
    // B.
    dec_chunk_probabilities(region, rowMax, rowSum, rowScale, rc, cn);
    __syncthreads();
    // C.
    dec_rescale_rows(acc, rowScale, rc);
    const kv_i64 residualValue0 = (kv_i64)kvh * src.residualValueCap - src.valueTokens + c0;
    for (int jj = slice; jj < cn; jj += slices) {
      float v[N];
      if (c0 + jj < v1) {
        const kv_u32* words = valueCodes + jj * L.valueWords + valueWord;
        const kv_u64 packed = ((kv_u64)(bits == 8 ? words[1] : 0u) << 32 | words[0]) >> valueShift;
        const float s = valueScale[jj * L.valueGroups + vg], mn = valueMin[jj * L.valueGroups + vg];
#pragma unroll
        for (int e = 0; e < N; e++) v[e] = kivi_code_to_float((kv_u32)(packed >> (e * bits)) & mask) * s + mn;
      } else {
        kivi_load_channels(static_cast<const TR*>(src.residualValues) + (residualValue0 + jj) * d, vseg * N, v);
      }
      dec_add_value(acc, region, jj, v, rc);
    }
    __syncthreads();  // the next tile overwrites the probabilities and the staged codes
    c0 = c1;
  }
  dec_write_partials<N>(acc, region, rowMax, rowSum, rowsOf, valueLanes, d, partAcc, partStat);
}

// Query dtypes of the 16-byte KIVI kernel's `queryDtype` (kivi-decode.ts passes them).
#define KIVI_QUERY_F32 0
#define KIVI_QUERY_F16 1
#define KIVI_QUERY_BF16 2

// The 16-byte KIVI pass: the block's query rows into shared memory, then the body. `rowMap` is
// StandardRows, or the mma pass's view of half its rows (KiviHalfRows, kivi-mma-pass.cuh).
template <class Rows>
__device__ __forceinline__ void kivi_decode_partial_vec(float* partAcc, float* partStat, const void* Q, int queryDtype, const KiviVecSource src, const Rows rowMap,
                                                        float scale, int causal, int window, float softcap) {
  DecBlockRows rowsOf;
  int j0 = 0, j1 = 0;
  const bool any = queryDtype == KIVI_QUERY_F16    ? dec_stage_rows(static_cast<const kv_f16*>(Q), src, rowMap, src.d, scale, rowsOf, j0, j1)
                   : queryDtype == KIVI_QUERY_BF16 ? dec_stage_rows(static_cast<const kv_bf16*>(Q), src, rowMap, src.d, scale, rowsOf, j0, j1)
                                                   : dec_stage_rows(static_cast<const float*>(Q), src, rowMap, src.d, scale, rowsOf, j0, j1);
  if (!any) return;
  if (src.residualF16) kivi_decode_vec_body<kv_f16>(src, partAcc, partStat, rowsOf, j0, j1, causal, window, softcap);
  else kivi_decode_vec_body<float>(src, partAcc, partStat, rowsOf, j0, j1, causal, window, softcap);
}
