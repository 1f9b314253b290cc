// Decode attention on tensor cores, at the level of mma fragments: what a split-K pass 1 needs to
// score a block's query rows against tiles of keys with mma.m16n8k16, keep an online softmax on the
// C fragments, multiply the probabilities by value tiles and write the partition's partials for
// pass 2 (merge.cu). The dense/ragged/paged pass (mma-decode-pass.cuh) and the KIVI pass build on it.
//
// A block serves up to MMA_DEC_ROWS query rows of one KV row (GQA group × m queries): the mma's M
// dimension, rows past the count are zero. Per lane (lane = 4·g + t) a C fragment of an 8-key
// n-tile holds rows g and g+8, keys 2t and 2t+1 (kvkit/mma.cuh): the softmax state of a lane is
// therefore that of rows g and g+8, and row reductions run over the quad (xor-shuffles 1 and 2).
// The C fragments of two adjacent n-tiles, packed to halves, are the A fragment of one 16-key
// k-step of P·V. Semantics are split-k-pass.cuh's: masks on positions (dec_visible), soft-cap, then
// log weights; a NaN score turns its row NaN; a row that sees no key keeps max −∞ and sum 0.
#pragma once
#include "kvkit/mma.cuh"
#include "split-k-pass.cuh"

// Query rows per block (the mma M dimension).
#define MMA_DEC_ROWS 16
// Largest head dim served (key and value): the fragment arrays below are sized for it.
#define MMA_DEC_MAX_DIM 128
// Q·Kᵀ k-steps (16 channels each) and P·V n-tiles (8 value channels each) at that head dim.
#define MMA_DEC_KSTEPS (MMA_DEC_MAX_DIM / 16)
#define MMA_DEC_VTILES (MMA_DEC_MAX_DIM / 8)
// Elements (16 bytes) of padding after each shared-memory row of 16-bit elements: rows are then an
// odd number of 16-byte units apart, so the 8 row addresses of an ldmatrix hit distinct banks.
#define MMA_DEC_PAD 8

// The block's query rows: how many, their positions and their partial slots.
typedef BlockRows<MMA_DEC_ROWS> MmaBlockRows;

// A shared-memory stage of `keys` keys the tensor-core passes fill by cp.async: K rows
// [keys][d + pad], V rows [keys][dv + pad] (16-bit elements), key positions and log weights [keys].
template <class TK>
struct MmaKvStage {
  TK* keys;
  TK* values;
  kv_i32* positions;
  float* logWeights;
};
// Its bytes (mma-decode-plan.ts sizes launches with the same rule).
__device__ __forceinline__ int mma_kv_stage_bytes(int keys, int d, int dv) { return 2 * keys * (d + MMA_DEC_PAD + dv + MMA_DEC_PAD) + 2 * keys * 4; }
// The stage starting at `base`.
template <class TK>
__device__ __forceinline__ MmaKvStage<TK> mma_kv_stage_at(unsigned char* base, int keys, int d, int dv) {
  MmaKvStage<TK> S;
  S.keys = reinterpret_cast<TK*>(base);
  S.values = S.keys + keys * (d + MMA_DEC_PAD);
  S.positions = reinterpret_cast<kv_i32*>(S.values + keys * (dv + MMA_DEC_PAD));
  S.logWeights = reinterpret_cast<float*>(S.positions + keys);
  return S;
}

// One lane's online-softmax state for rows g and g+8 over the keys its warp has seen. max is the
// row's (the same on the 4 lanes of a quad); sum is this lane's share of the row's Σ exp (its key
// columns), added up over the quad only at the end (mma_write_partials), saving shuffles per step.
struct MmaRowState {
  float max[2];
  float sum[2];
};

__device__ __forceinline__ void mma_state_init(MmaRowState& st) {
  st.max[0] = st.max[1] = -KV_INF;
  st.sum[0] = st.sum[1] = 0.0f;
}

__device__ __forceinline__ float mma_quad_max(float v) {
  v = kv_max_nan(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return kv_max_nan(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float mma_quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

template <class TK>
struct MmaOperand {
  static constexpr bool BF16 = false;
};
template <>
struct MmaOperand<kv_bf16> {
  static constexpr bool BF16 = true;
};

// Which query rows the block serves (dec_block_rows for chunks of 16 rows).
template <class Source, class Rows>
__device__ __forceinline__ bool mma_block_rows(const Source& src, const Rows& rowMap, MmaBlockRows& rowsOf, int& j0, int& j1) {
  return dec_block_rows<MMA_DEC_ROWS>(src, rowMap, rowsOf, j0, j1);
}

// Query rows r0 … r0 + count − 1 of KV row kvh (as `rowMap` maps them), scaled and rounded to the key
// dtype TK (f16 or bf16), into the shared tile qTile [tileRows][d + MMA_DEC_PAD], zero rows past the
// count. A barrier must separate this from mma_query_fragments.
template <class TQ, class TK, class Rows>
__device__ __forceinline__ void mma_stage_query_rows(const TQ* Q, const Rows& rowMap, int kvh, int r0, int count, int tileRows, int d, float scale, TK* qTile) {
  // Loads only for the live rows (a decode block has group · m of 16, often 4), a thread's 4 at a
  // time: in flight together rather than one latency each.
  const int live = count * d;
  for (int e0 = threadIdx.x; e0 < live; e0 += 4 * blockDim.x) {
    float x[4];
#pragma unroll
    for (int u = 0; u < 4; u++) {
      const int e = e0 + u * blockDim.x, r = e / d;
      x[u] = e < live ? KvType<TQ>::load(Q[rowMap.queryRow(kvh, r0 + r) * d + (e - r * d)]) * scale : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < 4; u++) {
      const int e = e0 + u * blockDim.x;
      if (e < live) qTile[(e / d) * (d + MMA_DEC_PAD) + e % d] = KvType<TK>::store(x[u]);
    }
  }
  for (int e = live + threadIdx.x; e < tileRows * d; e += blockDim.x) qTile[(e / d) * (d + MMA_DEC_PAD) + e % d] = KvType<TK>::store(0.0f);
}

// The block's query rows (those of mma_block_rows) into qTile [MMA_DEC_ROWS][d + MMA_DEC_PAD], as above.
template <class TQ, class TK, class Rows>
__device__ __forceinline__ void mma_stage_queries(const TQ* Q, const Rows& rowMap, int d, float scale, TK* qTile, const MmaBlockRows& rowsOf) {
  mma_stage_query_rows<TQ, TK>(Q, rowMap, blockIdx.y, blockIdx.z * MMA_DEC_ROWS, rowsOf.count, MMA_DEC_ROWS, d, scale, qTile);
}

// Both of the above: the block's rows, then their query tile. false: nothing to write (as above).
template <class TQ, class TK, class Source, class Rows>
__device__ __forceinline__ bool mma_stage_rows(const TQ* Q, const Source& src, const Rows& rowMap, int d, float scale, TK* qTile, MmaBlockRows& rowsOf, int& j0,
                                               int& j1) {
  if (!mma_block_rows(src, rowMap, rowsOf, j0, j1)) return false;
  mma_stage_queries<TQ, TK>(Q, rowMap, d, scale, qTile, rowsOf);
  return true;
}

// The A fragments (16 rows × 16 channels per k-step) of the staged query tile; k-steps past d / 16
// are zero. Every lane of the warp calls it (ldmatrix is warp-wide).
template <int KS, class TK>
__device__ __forceinline__ void mma_query_fragments(const TK* qTile, int d, kv_u32 (&qa)[KS][4]) {
  const int lane = threadIdx.x & 31;
  // ldmatrix.x4: lane 8j + r addresses row r of matrix j; matrices (rows 0–7 | 8–15) × (cols 0–7 | 8–15)
  // in A's register order: a0 (rows 0–7, cols 0–7), a1 (rows 8–15), a2 (cols 8–15), a3.
  const TK* at = qTile + ((lane & 7) + ((lane >> 3) & 1) * 8) * (d + MMA_DEC_PAD) + (lane >> 4) * 8;
#pragma unroll
  for (int ks = 0; ks < KS; ks++) {
    if (ks < d / 16) ldmatrix_x4(qa[ks], smem_address(at + ks * 16));
    else qa[ks][0] = qa[ks][1] = qa[ks][2] = qa[ks][3] = 0u;
  }
}

// Raw scores of NT 8-key n-tiles (C fragments of Q·Kᵀ) → masked scores, −∞ where the row does not
// see the key: keys at or past `keys` (a partial tile), rows past the block's count, positions
// (causal, window); then soft-cap and the key's log weight. keyPos / keyLogW index the tile's keys
// (keyLogW may be nullptr: no log weights); rowPos are the positions of rows g and g+8.
template <int NT>
__device__ __forceinline__ void mma_mask_scores(float (&s)[NT][4], const kv_i32* keyPos, const float* keyLogW, int keys, const kv_i32 (&rowPos)[2],
                                                const bool (&rowLive)[2], int causal, int window, float softcap) {
  const int t = threadIdx.x & 3;
#pragma unroll
  for (int nt = 0; nt < NT; nt++) {
#pragma unroll
    for (int e = 0; e < 4; e++) {
      const int key = nt * 8 + 2 * t + (e & 1), h = e >> 1;
      float sc = -KV_INF;
      if (key < keys && rowLive[h] && dec_visible(rowPos[h], keyPos[key], causal, window)) {
        sc = s[nt][e];
        if (softcap > 0.0f) sc = softcap * tanhf(sc / softcap);
        if (keyLogW) sc += keyLogW[key];
      }
      s[nt][e] = sc;
    }
  }
}

// exp of a score minus its row's max (≤ 0) on the SFU: ex2.approx after a multiply by log2 e, a few
// ulp from expf where expf's range reduction costs ~10 instructions; the probabilities are rounded
// to 16 bits for the mma anyway. The emulator keeps expf.
__device__ __forceinline__ float mma_exp(float x) {
#ifdef KVKIT_EMULATOR
  return expf(x);
#else
  return __expf(x);
#endif
}

// Masked scores of NT n-tiles → probabilities exp(s − new max), in place; the rows' maxima take the
// tile's and their sums are rescaled to it. rescale[h]: the factor (exp(old max − new max), 1 when
// the max holds) the output fragments of row g (h = 0) / g + 8 (h = 1) owe.
template <int NT>
__device__ __forceinline__ void mma_softmax_probabilities(float (&s)[NT][4], MmaRowState& st, float (&rescale)[2]) {
#pragma unroll
  for (int h = 0; h < 2; h++) {
    float mx = -KV_INF;
#pragma unroll
    for (int nt = 0; nt < NT; nt++) mx = kv_max_nan(mx, kv_max_nan(s[nt][2 * h], s[nt][2 * h + 1]));
    const float old = st.max[h];
    const float next = kv_max_nan(old, mma_quad_max(mx));
    rescale[h] = old == -KV_INF ? 0.0f : mma_exp(old - next);  // NaN max: NaN from here on
    float sum = 0.0f;
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
#pragma unroll
      for (int e = 2 * h; e < 2 * h + 2; e++) {
        s[nt][e] = next == -KV_INF ? 0.0f : mma_exp(s[nt][e] - next);
        sum += s[nt][e];
      }
    }
    st.max[h] = next;
    st.sum[h] = st.sum[h] * rescale[h] + sum;
  }
}

// DT output fragments (8 value channels each) × the rows' factors of mma_softmax_probabilities.
template <int DT>
__device__ __forceinline__ void mma_rescale_outputs(float (&o)[DT][4], const float (&rescale)[2]) {
#pragma unroll
  for (int dt = 0; dt < DT; dt++) {
    o[dt][0] *= rescale[0];
    o[dt][1] *= rescale[0];
    o[dt][2] *= rescale[1];
    o[dt][3] *= rescale[1];
  }
}

// Both: scores → probabilities, and the DT output fragments rescaled to the new maxima.
template <int NT, int DT>
__device__ __forceinline__ void mma_softmax_step(float (&s)[NT][4], MmaRowState& st, float (&o)[DT][4]) {
  float rescale[2];
  mma_softmax_probabilities(s, st, rescale);
  mma_rescale_outputs(o, rescale);
}

// Probabilities of 2·KS n-tiles (C fragments) → the A fragments of KS 16-key k-steps of P·V: n-tile
// 2k gives the k-step's key columns 0–7 (a0 row g, a1 row g+8), n-tile 2k+1 columns 8–15 (a2, a3).
template <bool BF16, int KS>
__device__ __forceinline__ void mma_probability_fragments(const float (&p)[2 * KS][4], kv_u32 (&a)[KS][4]) {
#pragma unroll
  for (int k = 0; k < KS; k++) {
    a[k][0] = mma_pack2<BF16>(p[2 * k][0], p[2 * k][1]);
    a[k][1] = mma_pack2<BF16>(p[2 * k][2], p[2 * k][3]);
    a[k][2] = mma_pack2<BF16>(p[2 * k + 1][0], p[2 * k + 1][1]);
    a[k][3] = mma_pack2<BF16>(p[2 * k + 1][2], p[2 * k + 1][3]);
  }
}

// The lane's share of DT output fragments (8 channels each, those past dv unused) into the rows
// row0 (row g) and row1 (row g + 8; nullptr: none), which hold channels 0 … dv − 1.
template <int DT>
__device__ __forceinline__ void mma_store_fragments(const float (&o)[DT][4], float* row0, float* row1, int dv) {
  const int t = threadIdx.x & 3;
#pragma unroll
  for (int dt = 0; dt < DT; dt++) {
    if (dt * 8 >= dv) continue;
    row0[dt * 8 + 2 * t] = o[dt][0];
    row0[dt * 8 + 2 * t + 1] = o[dt][1];
    if (!row1) continue;
    row1[dt * 8 + 2 * t] = o[dt][2];
    row1[dt * 8 + 2 * t + 1] = o[dt][3];
  }
}

// The end of a pass whose warps own distinct rows (no merge across warps): the lane's rows g and
// g + 8 (partial slots slot[0], slot[1]; live[h] false: past the block's rows) get the warp's
// unnormalized output partAcc[slot·dv + c] and (max, Σ exp) partStat[2·slot], [2·slot + 1].
template <int DT>
__device__ __forceinline__ void mma_write_warp_partials(const float (&o)[DT][4], const MmaRowState& st, const kv_i64 (&slot)[2], const bool (&live)[2], int dv,
                                                        float* partAcc, float* partStat) {
  const float sum[2] = {mma_quad_sum(st.sum[0]), mma_quad_sum(st.sum[1])};
  const int t = threadIdx.x & 3;
#pragma unroll
  for (int h = 0; h < 2; h++) {
    if (live[h] && t == 0) {
      partStat[2 * slot[h]] = st.max[h];
      partStat[2 * slot[h] + 1] = sum[h];
    }
  }
  // Rows are in order: row g + 8 live implies row g live.
  if (live[0]) mma_store_fragments(o, partAcc + slot[0] * dv, live[1] ? partAcc + slot[1] * dv : nullptr, dv);
}

// Floats of shared memory mma_write_partials needs for `warps` warps and dv value channels.
__device__ __forceinline__ int mma_scratch_floats(int warps, int dv) { return warps * MMA_DEC_ROWS * (3 + dv + MMA_DEC_PAD); }

// The end of the pass: every warp of the block holds its own state and output fragments (DT n-tiles
// of 8 channels, those past dv unused) over its share of the partition's keys. They merge through
// shared memory `scratch` (mma_scratch_floats; it may alias tiles the warps read in their loops:
// the barrier on entry waits for them) into the partition's unnormalized output partAcc[slot·dv + c]
// and its (max, Σ exp) partStat[2·slot], [2·slot + 1] per row, as pass 2 expects.
template <int DT>
__device__ __forceinline__ void mma_write_partials(const float (&o)[DT][4], const MmaRowState& st, float* scratch, const MmaBlockRows& rowsOf, int dv, float* partAcc,
                                                   float* partStat) {
  const int warps = blockDim.x >> 5, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int stride = dv + MMA_DEC_PAD;  // padded rows: the quads' 8 rows fall on different banks
  float* wMax = scratch;                           // [warps][rows]
  float* wSum = wMax + warps * MMA_DEC_ROWS;       // [warps][rows]
  float* wFactor = wSum + warps * MMA_DEC_ROWS;    // [warps][rows]: exp(warp max − block max)
  float* wAcc = wFactor + warps * MMA_DEC_ROWS;    // [warps][rows][stride]
  const float sum0 = mma_quad_sum(st.sum[0]), sum1 = mma_quad_sum(st.sum[1]);
  __syncthreads();
  if (t == 0) {
    wMax[warp * MMA_DEC_ROWS + g] = st.max[0];
    wMax[warp * MMA_DEC_ROWS + g + 8] = st.max[1];
    wSum[warp * MMA_DEC_ROWS + g] = sum0;
    wSum[warp * MMA_DEC_ROWS + g + 8] = sum1;
  }
  float* row0 = wAcc + (warp * MMA_DEC_ROWS + g) * stride;
  mma_store_fragments(o, row0, row0 + 8 * stride, dv);
  __syncthreads();
  const int rc = rowsOf.count;
  if (threadIdx.x < rc) {
    const int r = threadIdx.x;
    float mx = -KV_INF;
    for (int w = 0; w < warps; w++) mx = kv_max_nan(mx, wMax[w * MMA_DEC_ROWS + r]);
    float sum = 0.0f;
    for (int w = 0; w < warps; w++) {
      const float wm = wMax[w * MMA_DEC_ROWS + r];
      const float f = wm == -KV_INF ? 0.0f : expf(wm - mx);  // a warp that saw nothing adds nothing
      wFactor[w * MMA_DEC_ROWS + r] = f;
      sum += f == 0.0f ? 0.0f : wSum[w * MMA_DEC_ROWS + r] * f;
    }
    const kv_i64 slot = rowsOf.slot[r];
    partStat[2 * slot] = mx;
    partStat[2 * slot + 1] = sum;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < rc * dv; e += blockDim.x) {
    const int r = e / dv, c = e - r * dv;
    float a = 0.0f;
    for (int w = 0; w < warps; w++) {
      const float f = wFactor[w * MMA_DEC_ROWS + r];
      if (f != 0.0f) a += wAcc[(w * MMA_DEC_ROWS + r) * stride + c] * f;
    }
    partAcc[rowsOf.slot[r] * dv + c] = a;
  }
}
