// Split-K pass 1 on tensor cores for f16/bf16 K/V rows (dense, ragged and paged sources, through
// DecKeyWalk): one block per (partition, KV row, chunk of MMA_DEC_ROWS query rows), as the 16-byte
// pass, with the same partials for pass 2.
//
// The pass is bound by reading K and V, so it is built to keep many bytes in flight: each of the
// MMA_DEC_WARPS warps owns an independent stream of 16-key steps of the partition (warp w takes
// steps w, w + W, …) with MMA_DEC_STAGES shared-memory stages of its own, filled by cp.async while it
// computes on an earlier one; a warp waits only for its own copies (cp_async_wait, __syncwarp), never
// for the other warps, and the warps' states merge once at the end (mma_write_partials). A step:
//   S = Q·Kᵀ: 2 n-tiles × d/16 k-steps of mma.m16n8k16, B fragments by ldmatrix from the K tile
//     [key][channel] (exactly mma's "col" B layout);
//   mask, online softmax, probabilities → A fragments (mma-decode-tile.cuh);
//   O += P·V: one k-step × dv/8 n-tiles, B fragments by ldmatrix.trans from the V tile [key][channel].
// A stage holds the step's K rows [16][d + pad], V rows [16][dv + pad], key positions and log
// weights [16] (4-byte cp.async; a paged source's table lookup for a step is made one step ahead, so
// nothing in the loop waits on a global load). At d = dv = 128: 8.6 KiB a stage, 3 stages × 4 warps = 103.5 KiB a block,
// 2 blocks per SM, and up to 2 stages per warp (≈ 69 KiB per block) in flight while it computes.
// A block issues its warps' first copies before it stages its query rows, so the two latencies
// overlap; the query tile borrows a stage the first copies leave free.
#pragma once
#include "mma-decode-tile.cuh"

#define MMA_DEC_WARPS 4
#define MMA_DEC_STAGES 3
// Keys per warp step: two 8-key n-tiles of scores, one 16-key k-step of P·V.
#define MMA_DEC_STEP 16

// Whether the pass serves these head dims: k-steps of 16 channels, rows whose 16-byte chunks divide
// a warp (the copies below map lanes to (key, chunk) with shifts), up to MMA_DEC_MAX_DIM.
__device__ __forceinline__ bool mma_dec_serves_dim(int d) { return d == 16 || d == 32 || d == 64 || d == 128; }

// Copies 16 rows of `width` elements (row index of tile key kk on lane kk, valid keys < keys) into a
// tile [16][width + pad]: 16-byte chunks, consecutive lanes on consecutive chunks of a row.
template <class TK>
__device__ __forceinline__ void mma_dec_copy_rows(TK* tile, const TK* rows, kv_i64 row, int keys, int width) {
  const int lane = threadIdx.x & 31;
  const int chunks = width / 8, perPass = 32 / chunks;  // chunks divides 32 (mma_dec_serves_dim)
  const int c = lane % chunks;
  for (int kk = lane / chunks; kk < MMA_DEC_STEP; kk += perPass) {  // same trip count on every lane
    const kv_i64 r = __shfl_sync(0xffffffffu, row, kk);
    cp_async16(smem_address(tile + kk * (width + MMA_DEC_PAD) + c * 8), rows + r * width + c * 8, kk < keys);
  }
}

// One warp's stage b: a step's MmaKvStage of 16 keys; stage b of warp w is the (w · MMA_DEC_STAGES + b)-th.
template <class TK>
__device__ __forceinline__ MmaKvStage<TK> mma_dec_stage(int warp, int b, int d, int dv) {
  KV_DYNAMIC_SHARED(kv_decode_smem);
  return mma_kv_stage_at<TK>(kv_decode_smem + (warp * MMA_DEC_STAGES + b) * mma_kv_stage_bytes(MMA_DEC_STEP, d, dv), MMA_DEC_STEP, d, dv);
}

// The query tile [16][d + pad] lives in the last warp's last stage: the prologue leaves that stage
// empty, and the block's barrier after every warp has read its fragments comes before its first fill.
template <class TK>
__device__ __forceinline__ TK* mma_dec_query_tile(int d, int dv) {
  return mma_dec_stage<TK>(MMA_DEC_WARPS - 1, MMA_DEC_STAGES - 1, d, dv).keys;
}

// How many 16-key steps of the partition [j0, j1) this warp takes (steps w, w + W, …), and the
// first key of its step i.
__device__ __forceinline__ int mma_dec_warp_steps(int j0, int j1) {
  const int steps = (j1 - j0 + MMA_DEC_STEP - 1) / MMA_DEC_STEP, warp = threadIdx.x >> 5;
  return warp < steps ? (steps - warp + MMA_DEC_WARPS - 1) / MMA_DEC_WARPS : 0;
}
__device__ __forceinline__ int mma_dec_first_key(int j0, int i) { return j0 + ((threadIdx.x >> 5) + i * MMA_DEC_WARPS) * MMA_DEC_STEP; }

// Row index (into K/V) of tile key kk = lane % 16 of this warp's step i, 0 past the partition or the
// last step. A paged source reads it from the page table: the pass looks each step's rows up when it
// issues the step before, so the copies never wait for that load.
__device__ __forceinline__ kv_i64 mma_dec_step_row(const DecKeyWalk& walk, int j0, int j1, int i, int steps) {
  const int key = mma_dec_first_key(j0, i) + (threadIdx.x & (MMA_DEC_STEP - 1));
  return i < steps && key < j1 ? walk.row(key) : 0;
}

// The copies of this warp's step i (of `steps`) into its stage i % MMA_DEC_STAGES, lane kk and
// kk + 16 holding tile key kk's row (mma_dec_step_row); one commit group per step, empty past the
// last, so cp_async_wait counts steps.
template <class TK>
__device__ __forceinline__ void mma_dec_issue(const TK* K, const TK* V, const DecKeyWalk& walk, int j0, int j1, int d, int dv, int i, int steps, kv_i64 row) {
  if (i < steps) {
    const int lane = threadIdx.x & 31;
    const MmaKvStage<TK> S = mma_dec_stage<TK>(threadIdx.x >> 5, i % MMA_DEC_STAGES, d, dv);
    const int base = mma_dec_first_key(j0, i), keys = min(MMA_DEC_STEP, j1 - base);
    const int kk = lane & (MMA_DEC_STEP - 1);
    const bool valid = kk < keys;
    if (lane < MMA_DEC_STEP) {
      cp_async4(smem_address(S.positions + kk), walk.positions + (walk.positionByRow ? row : walk.posBase + base + kk), valid);
      if (walk.logW) cp_async4(smem_address(S.logWeights + kk), walk.logW + row, valid);
    }
    mma_dec_copy_rows(S.keys, K, row, keys, d);
    mma_dec_copy_rows(S.values, V, row, keys, dv);
  }
  cp_async_commit();
}

// The first MMA_DEC_STAGES − 1 steps' copies of every warp, issued before the block stages its query
// rows so their latency overlaps. Returns the rows of the next step (mma_dec_step_row).
template <class TK>
__device__ __noinline__ kv_i64 mma_decode_prologue(const TK* K, const TK* V, const DecKeyWalk walk, int j0, int j1, int d, int dv) {
  const int steps = mma_dec_warp_steps(j0, j1);
  kv_i64 row = mma_dec_step_row(walk, j0, j1, 0, steps);
  for (int i = 0; i < MMA_DEC_STAGES - 1; i++) {
    const kv_i64 next = mma_dec_step_row(walk, j0, j1, i + 1, steps);  // in flight while step i issues
    mma_dec_issue(K, V, walk, j0, j1, d, dv, i, steps, row);
    row = next;
  }
  return row;
}

// The pass after the prologue and the query tile. Not inlined and templated on the key dtype only,
// so two copies serve every query dtype and source.
template <class TK>
__device__ __noinline__ void mma_decode_body(const TK* K, const TK* V, float* partAcc, float* partStat, const DecKeyWalk walk, const MmaBlockRows rowsOf, int j0,
                                             int j1, int d, int dv, int causal, int window, float softcap, kv_i64 nextRow) {
  constexpr bool BF16 = MmaOperand<TK>::BF16;
  KV_DYNAMIC_SHARED(kv_decode_smem);
  const int lane = threadIdx.x & 31, g = lane >> 2;

  __syncthreads();  // the query tile is complete
  kv_u32 qa[MMA_DEC_KSTEPS][4];
  mma_query_fragments<MMA_DEC_KSTEPS>(mma_dec_query_tile<TK>(d, dv), d, qa);
  __syncthreads();  // every warp has its fragments: the last warp's last stage is free to fill

  const kv_i32 rowPos[2] = {rowsOf.position[g], rowsOf.position[g + 8]};
  const bool rowLive[2] = {g < rowsOf.count, g + 8 < rowsOf.count};
  MmaRowState st;
  mma_state_init(st);
  float o[MMA_DEC_VTILES][4];
#pragma unroll
  for (int dt = 0; dt < MMA_DEC_VTILES; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;

  // ldmatrix row addresses (lane 8j + r gives row r of matrix j): K as B of two n-tiles, matrices
  // (keys 0–7 | 8–15) × (channels 0–7 | 8–15) in b order: n-tile 0 (b0, b1), n-tile 1 (b0, b1);
  // V transposed, matrices (keys 0–7 | 8–15) × (channels 0–7 | 8–15) as n-tile 0 (b0, b1), n-tile 1.
  const int kOffset = ((lane & 7) + (lane >> 4) * 8) * (d + MMA_DEC_PAD) + ((lane >> 3) & 1) * 8;
  const int vOffset = ((lane & 7) + ((lane >> 3) & 1) * 8) * (dv + MMA_DEC_PAD) + (lane >> 4) * 8;

  const int steps = mma_dec_warp_steps(j0, j1);
  for (int i = 0; i < steps; i++) {
    // Into the stage step i − 1 used (the __syncwarp below ended its reads); the rows of the step
    // after it are looked up now and wanted only in the next iteration.
    const kv_i64 row = nextRow;
    nextRow = mma_dec_step_row(walk, j0, j1, i + MMA_DEC_STAGES, steps);
    mma_dec_issue(K, V, walk, j0, j1, d, dv, i + MMA_DEC_STAGES - 1, steps, row);
    cp_async_wait<MMA_DEC_STAGES - 1>();
    __syncwarp();  // step i's copies, by every lane, have landed and are visible to the warp
    const MmaKvStage<TK> S = mma_dec_stage<TK>(threadIdx.x >> 5, i % MMA_DEC_STAGES, d, dv);

    // A tile's ldmatrix are issued together ahead of their products (asm statements keep their
    // order: interleaved, each product would wait for its load); the value tile's load while the
    // scores go through the softmax.
    kv_u32 b[MMA_DEC_KSTEPS][4], bv[MMA_DEC_VTILES / 2][4];
#pragma unroll
    for (int ks = 0; ks < MMA_DEC_KSTEPS; ks++)
      if (ks < d / 16) ldmatrix_x4(b[ks], smem_address(S.keys + kOffset + ks * 16));
    float s[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
    for (int ks = 0; ks < MMA_DEC_KSTEPS; ks++) {
      if (ks >= d / 16) break;
      mma_16816<BF16>(s[0], qa[ks], b[ks]);
      mma_16816<BF16>(s[1], qa[ks], b[ks] + 2);
    }
#pragma unroll
    for (int p = 0; p < MMA_DEC_VTILES / 2; p++)
      if (p < dv / 16) ldmatrix_x4_trans(bv[p], smem_address(S.values + vOffset + p * 16));
    mma_mask_scores<2>(s, S.positions, walk.logW ? S.logWeights : nullptr, j1 - mma_dec_first_key(j0, i), rowPos, rowLive, causal, window, softcap);
    mma_softmax_step<2, MMA_DEC_VTILES>(s, st, o);
    kv_u32 pa[1][4];
    mma_probability_fragments<BF16, 1>(s, pa);
#pragma unroll
    for (int p = 0; p < MMA_DEC_VTILES / 2; p++) {
      if (p >= dv / 16) break;
      mma_16816<BF16>(o[2 * p], pa[0], bv[p]);
      mma_16816<BF16>(o[2 * p + 1], pa[0], bv[p] + 2);
    }
    __syncwarp();  // every lane is done with this stage before the next iteration refills it
  }
  cp_async_wait<0>();  // only empty groups remain; nothing may land in the scratch below
  mma_write_partials<MMA_DEC_VTILES>(o, st, reinterpret_cast<float*>(kv_decode_smem), rowsOf, dv, partAcc, partStat);
}

// Block-uniform: whether any of the block's rows sees any key of [j0, j1) (every thread reads a
// share of the keys' positions, four at a time).
__device__ __forceinline__ bool mma_dec_any_visible(const DecKeyWalk& walk, const MmaBlockRows& rowsOf, int j0, int j1, int causal, int window) {
  int seen = 0;
  for (int j = j0 + threadIdx.x; j < j1; j += 4 * blockDim.x) {
    kv_i32 kp[4];
#pragma unroll
    for (int u = 0; u < 4; u++) {
      const int ju = j + u * blockDim.x;
      kp[u] = ju < j1 ? walk.position(ju, walk.row(ju)) : 0;
    }
#pragma unroll
    for (int u = 0; u < 4; u++)
      for (int r = 0; r < rowsOf.count; r++) seen |= j + u * (int)blockDim.x < j1 && dec_visible(rowsOf.position[r], kp[u], causal, window);
  }
  return __syncthreads_or(seen);
}

// The pass: the block's rows, the first steps' copies, the query tile, then the body.
template <class TQ, class TK, class Source, class Rows>
__device__ void mma_decode_partial(const TK* K, const TK* V, float* partAcc, float* partStat, const TQ* Q, const Source src, const Rows rowMap, int d, int dv,
                                   float scale, int causal, int window, float softcap) {
  MmaBlockRows rowsOf;
  int j0 = 0, j1 = 0;
  if (!mma_block_rows(src, rowMap, rowsOf, j0, j1)) return;
  const DecKeyWalk walk = src.walk(blockIdx.y);
  // A partition no row can see (a sliding window's old keys, causal prefill's keys past a chunk of
  // queries) is common enough to be worth one look at its positions before reading its K/V: then the
  // block writes the empty partials (no steps). Plain causal decode (one query position) skips the look.
  bool rowsDiffer = false;
  for (int r = 1; r < rowsOf.count; r++) rowsDiffer |= rowsOf.position[r] != rowsOf.position[0];
  if ((window > 0 || (causal && rowsDiffer)) && !mma_dec_any_visible(walk, rowsOf, j0, j1, causal, window)) j1 = j0;
  const kv_i64 nextRow = mma_decode_prologue<TK>(K, V, walk, j0, j1, d, dv);
  mma_stage_queries<TQ, TK>(Q, rowMap, d, scale, mma_dec_query_tile<TK>(d, dv), rowsOf);
  mma_decode_body<TK>(K, V, partAcc, partStat, walk, rowsOf, j0, j1, d, dv, causal, window, softcap, nextRow);
}
