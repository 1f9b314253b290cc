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
// weights [16] (4-byte cp.async, so nothing in the loop waits on a global load except a paged
// source's table lookup). At d = dv = 128: 8.6 KiB a stage, 3 stages × 4 warps = 103.5 KiB a block,
// 2 blocks per SM, and up to 2 stages per warp (≈ 69 KiB per block) in flight while it computes.
#pragma once
#include "mma-decode-tile.cuh"

#define MMA_DEC_WARPS 4
#define MMA_DEC_STAGES 3
// Keys per warp step: two 8-key n-tiles of scores, one 16-key k-step of P·V.
#define MMA_DEC_STEP 16

// Bytes of one warp's stage (mma-decode-plan.ts sizes launches with the same rule).
__device__ __forceinline__ int mma_dec_stage_bytes(int d, int dv) { return 2 * MMA_DEC_STEP * (d + MMA_DEC_PAD + dv + MMA_DEC_PAD) + 2 * MMA_DEC_STEP * 4; }

// 4 bytes global → shared without waiting (cp.async.ca; zero-filled when !valid: nothing is read).
#ifdef KVKIT_EMULATOR
__device__ __forceinline__ void mma_dec_copy4(SmemAddress dst, const void* src, bool valid) {
  if (valid) memcpy(const_cast<void*>(dst), src, 4);
  else memset(const_cast<void*>(dst), 0, 4);
}
#else
__device__ __forceinline__ void mma_dec_copy4(SmemAddress dst, const void* src, bool valid) {
  const int bytes = valid ? 4 : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(dst), "l"(src), "r"(bytes));
}
#endif

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

// The pass after the block's query rows are staged (shared memory starts with their tile). Not
// inlined and templated on the key dtype only, so two copies serve every query dtype and source.
template <class TK>
__device__ __noinline__ void mma_decode_body(const TK* K, const TK* V, float* partAcc, float* partStat, const DecKeyWalk walk, const MmaBlockRows rowsOf, int j0,
                                             int j1, int d, int dv, int causal, int window, float softcap) {
  constexpr bool BF16 = MmaOperand<TK>::BF16;
  KV_DYNAMIC_SHARED(kv_decode_smem);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2;

  __syncthreads();  // the query tile is complete
  kv_u32 qa[MMA_DEC_KSTEPS][4];
  mma_query_fragments<MMA_DEC_KSTEPS>(reinterpret_cast<const TK*>(kv_decode_smem), d, qa);
  __syncthreads();  // every warp has its fragments: the stages below overwrite the tile

  const int stageBytes = mma_dec_stage_bytes(d, dv);
  unsigned char* stages = kv_decode_smem + warp * MMA_DEC_STAGES * stageBytes;
  const int kStride = d + MMA_DEC_PAD, vStride = dv + MMA_DEC_PAD;
  auto keyTile = [&](int b) { return reinterpret_cast<TK*>(stages + b * stageBytes); };
  auto valueTile = [&](int b) { return keyTile(b) + MMA_DEC_STEP * kStride; };
  auto positionsOf = [&](int b) { return reinterpret_cast<kv_i32*>(valueTile(b) + MMA_DEC_STEP * vStride); };
  auto logWeightsOf = [&](int b) { return reinterpret_cast<float*>(positionsOf(b) + MMA_DEC_STEP); };

  const int steps = (j1 - j0 + MMA_DEC_STEP - 1) / MMA_DEC_STEP;
  const int mine = warp < steps ? (steps - warp + MMA_DEC_WARPS - 1) / MMA_DEC_WARPS : 0;
  auto firstKey = [&](int i) { return j0 + (warp + i * MMA_DEC_WARPS) * MMA_DEC_STEP; };

  // The copies of this warp's step i into stage i % MMA_DEC_STAGES; one commit group per step, empty
  // past the last, so cp_async_wait counts steps. Lanes kk and kk + 16 look up tile key kk.
  auto issue = [&](int i) {
    if (i < mine) {
      const int b = i % MMA_DEC_STAGES, base = firstKey(i), keys = min(MMA_DEC_STEP, j1 - base);
      const int kk = lane & (MMA_DEC_STEP - 1);
      const bool valid = kk < keys;
      const kv_i64 row = valid ? walk.row(base + kk) : 0;
      if (lane < MMA_DEC_STEP) {
        mma_dec_copy4(smem_address(positionsOf(b) + kk), walk.positions + (walk.positionByRow ? row : walk.posBase + base + kk), valid);
        if (walk.logW) mma_dec_copy4(smem_address(logWeightsOf(b) + kk), walk.logW + row, valid);
      }
      mma_dec_copy_rows(keyTile(b), K, row, keys, d);
      mma_dec_copy_rows(valueTile(b), V, row, keys, dv);
    }
    cp_async_commit();
  };

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
  const int kRow = (lane & 7) + (lane >> 4) * 8, kCol = ((lane >> 3) & 1) * 8;
  const int vRow = (lane & 7) + ((lane >> 3) & 1) * 8, vCol = (lane >> 4) * 8;

  for (int i = 0; i < MMA_DEC_STAGES - 1; i++) issue(i);
  for (int i = 0; i < mine; i++) {
    issue(i + MMA_DEC_STAGES - 1);  // into the stage step i − 1 used (the __syncwarp below ended its reads)
    cp_async_wait<MMA_DEC_STAGES - 1>();
    __syncwarp();  // step i's copies, by every lane, have landed and are visible to the warp
    const int b = i % MMA_DEC_STAGES;

    float s[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
    const TK* kt = keyTile(b) + kRow * kStride + kCol;
#pragma unroll
    for (int ks = 0; ks < MMA_DEC_KSTEPS; ks++) {
      if (ks >= d / 16) break;
      kv_u32 bk[4];
      ldmatrix_x4(bk, smem_address(kt + ks * 16));
      mma_16816<BF16>(s[0], qa[ks], bk);
      mma_16816<BF16>(s[1], qa[ks], bk + 2);
    }
    mma_mask_scores<2>(s, positionsOf(b), walk.logW ? logWeightsOf(b) : nullptr, j1 - firstKey(i), rowPos, rowLive, causal, window, softcap);
    mma_softmax_step<2, MMA_DEC_VTILES>(s, st, o);
    kv_u32 pa[1][4];
    mma_probability_fragments<BF16, 1>(s, pa);
    const TK* vt = valueTile(b) + vRow * vStride + vCol;
#pragma unroll
    for (int p = 0; p < MMA_DEC_VTILES / 2; p++) {
      if (p >= dv / 16) break;
      kv_u32 bv[4];
      ldmatrix_x4_trans(bv, smem_address(vt + p * 16));
      mma_16816<BF16>(o[2 * p], pa[0], bv);
      mma_16816<BF16>(o[2 * p + 1], pa[0], bv + 2);
    }
    __syncwarp();  // every lane is done with stage b before the next iteration refills it
  }
  cp_async_wait<0>();  // only empty groups remain; nothing may land in the scratch below
  mma_write_partials<MMA_DEC_VTILES>(o, st, reinterpret_cast<float*>(kv_decode_smem), rowsOf, dv, partAcc, partStat);
}

// The pass: the block's query rows into the shared query tile, then the body.
template <class TQ, class TK, class Source, class Rows>
__device__ void mma_decode_partial(const TK* K, const TK* V, float* partAcc, float* partStat, const TQ* Q, const Source src, const Rows rowMap, int d, int dv,
                                   float scale, int causal, int window, float softcap) {
  KV_DYNAMIC_SHARED(kv_decode_smem);
  MmaBlockRows rowsOf;
  int j0 = 0, j1 = 0;
  if (!mma_stage_rows<TQ, TK>(Q, src, rowMap, d, scale, reinterpret_cast<TK*>(kv_decode_smem), rowsOf, j0, j1)) return;
  mma_decode_body<TK>(K, V, partAcc, partStat, src.walk(blockIdx.y), rowsOf, j0, j1, d, dv, causal, window, softcap);
}
