// Pass 1 of the fused KIVI decode on tensor cores: scores and values by mma.m16n8k16 straight from
// the packed codes, with the fragment-level softmax and write-out of mma-decode-tile.cuh and the
// partials merge.cu reads. Blocks whose keys reach the full-precision residual window take the
// 16-byte pass (kivi-vec-pass.cuh) instead, so the residual needs nothing here.
//
// The algebra (KIVI format: KiviSource in split-k-pass.cuh). Keys are quantized per channel c in
// groups of G tokens, k[t][c] = code·s[c] + mn[c], so inside a group
//   score[r][t] = Σ_c (q[r][c]·s[c])·code[t][c] + Σ_c q[r][c]·mn[c]:
// an mma of Q' = q ⊙ s (A, f16, per group) with the raw codes (B: small integers, exact in
// f16), plus a per-(row, group) bias added to the f32 C fragments. Values are quantized per token t
// in groups of Gv channels, v[t][c] = vcode·vs[t][gc] + vmn[t][gc], so
//   out[r][c] = Σ_t (p[r][t]·vs[t][gc])·vcode[t][c] + Σ_t p[r][t]·vmn[t][gc]:
// an mma of P' = p ⊙ vs[:, gc] (A: the probability fragments times the scales, one f16x2 multiply a
// register) with the raw value codes, plus Σ_t p·vmn[t][gc], which one more mma per step collects
// for all ≤ 8 value groups at once (B columns = groups) into an extra output tile, rescaled with
// the others and added to each channel's fragment once at the end.
//
// Codes → f16 pairs without int→float conversion or shifts: a B register holds two codes of one
// column n = g (key token or value channel) at consecutive k (key channels 2t, 2t+1 or value tokens
// 2t, 2t+1), each in its own word at the same bit. One byte permute puts the byte holding the code
// of each word into the low byte of a half; masking leaves the code where it was in its byte, at bit
// o = (n·bits) mod 8, and or-ing 0x6400 makes the f16 1024 + code·2^o (≤ 1264: exact). For values
// one f16x2 subtract of 1024 leaves code·2^o; keys keep the 1024, whose product Σ_c Q'·1024 leaves
// with the bias (a step's scores start from zero, so the cancellation costs at most an f32 rounding
// of 1024·|Σ Q'|, below Q''s own f16 rounding; the value accumulators live for the whole partition,
// so they subtract). The factor 2^o is per column, so it comes off the f32 C fragments: scores take
// it in the bias FMA, value channels once at the end.
//
// Precision: f16 operands (q, key scales and minimums, Q' = q·s, p, p·vs, value minimums rounded
// to f16; codes exact), f32 accumulation, as FlashAttention. bf16 queries are scaled in f32 and
// rounded to f16 too: f16 keeps 3 more mantissa bits than bf16 and the per-group scales keep Q' in
// its range. f32 queries ask for f32 arithmetic: the host leaves them to the 16-byte pass.
//
// Shape of a block: DEC_WARPS warps, MMA_DEC_ROWS query rows (the mma M dimension), the partition's
// keys in tiles of KIVI_MMA_TILE tokens aligned to multiples of the tile (so key groups, which
// divide the tile, never straddle one). Per tile:
//   S. (issued stages − 1 tiles ahead) the tile's packed key codes, key scales/mins, packed value
//      codes, value scales/mins and key positions into a ring stage by cp.async: whole tiles warp by
//      warp from the block's copies table (16-byte copies), partial ones (and unaligned caches) by
//      block-wide copies that also zero the value scales/mins outside the partition (so P' and the
//      bias vanish there);
//   P. value scales/mins as f16 [group][token]: f16 ones by each warp for its own 32 tokens (no
//      block barrier), f32 ones by the block with the key scales/mins as f16 (a second barrier);
//   C. (warp w: tile tokens 32w … 32w + 31, one double step when key groups hold them, else two
//      16-key steps) Q' per k-step from the query's f16 fragments (staged once),
//      scores (d/16 k-steps × 2 n-tiles a step), bias (q·mn and ΣQ' by two more mma a k-step), masks (skipped
//      where the tile is visible to every row), online softmax (the output tiles rescaled only when
//      a max grows), P·V (d/8 n-tiles) and the value-min tile. The warps merge at the end.
// The host (kivi-mma-plan.ts) picks this pass only for shapes it serves (f16/bf16 queries, bits 2/4,
// head dim 64/128, G a multiple of 16 dividing the tile, Gv a multiple of 16, partitions of whole
// 16-key steps) and sizes the shared memory with the same layout (kivi_mma_layout).
#pragma once
#include "kivi-vec-pass.cuh"
#include "mma-decode-tile.cuh"

#define KIVI_MMA_TILE DEC_KEYS
#define KIVI_MMA_STEP 16
// Blocks per SM the kernel is compiled for: caps registers at 168 (unbounded, ptxas takes 254: two
// blocks per SM). Three blocks of the benchmark shape (2-bit, d 128, groups 32/32, f16 scales:
// 54 KiB each) fit an H100/H200 SM.
#define KIVI_MMA_MIN_BLOCKS 3
#define KIVI_F16_1024 0x64006400u

struct alignas(8) KiviVec8 {
  kv_u32 w[2];
};

// ---- codes → f16 fragment registers --------------------------------------------------------------

#ifdef KVKIT_EMULATOR
__device__ __forceinline__ kv_u32 kivi_byte_perm(kv_u32 lo, kv_u32 hi, kv_u32 selector) {
  const kv_u64 bytes = (kv_u64)hi << 32 | lo;
  kv_u32 out = 0;
  for (int i = 0; i < 4; i++) out |= (kv_u32)((bytes >> (8 * ((selector >> (4 * i)) & 7))) & 0xffu) << (8 * i);
  return out;
}
__device__ __forceinline__ kv_u32 kivi_f16x2_op(kv_u32 a, kv_u32 b, bool multiply) {
  kv_u32 out = 0;
  for (int h = 0; h < 2; h++) {
    const float x = kv_f16_to_float((kv_u16)(a >> (16 * h))), y = kv_f16_to_float((kv_u16)(b >> (16 * h)));
    out |= (kv_u32)kv_float_to_f16(multiply ? x * y : x - y) << (16 * h);
  }
  return out;
}
__device__ __forceinline__ kv_u32 kivi_hsub2(kv_u32 a, kv_u32 b) { return kivi_f16x2_op(a, b, false); }
__device__ __forceinline__ kv_u32 kivi_hmul2(kv_u32 a, kv_u32 b) { return kivi_f16x2_op(a, b, true); }
#else
__device__ __forceinline__ kv_u32 kivi_byte_perm(kv_u32 lo, kv_u32 hi, kv_u32 selector) { return __byte_perm(lo, hi, selector); }
__device__ __forceinline__ kv_u32 kivi_hsub2(kv_u32 a, kv_u32 b) {
  kv_u32 d;
  asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
__device__ __forceinline__ kv_u32 kivi_hmul2(kv_u32 a, kv_u32 b) {
  kv_u32 d;
  asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
#endif

// Where lane g finds the code of its column in a word: the byte permute that brings that byte of
// two words into the low bytes of the halves, for columns whose first code starts the word (base 0)
// or its third byte (base 2: the second 8 columns of a 2-bit word), and the mask of its bits there.
struct KiviCodeLane {
  kv_u32 select[2];  // by base byte 0, 2
  kv_u32 mask;
};

template <int BITS>
__device__ __forceinline__ KiviCodeLane kivi_code_lane(int g) {
  const int byte = (g * BITS) >> 3, bit = (g * BITS) & 7;
  KiviCodeLane c;
  for (int base = 0; base < 2; base++) {
    const kv_u32 b = byte + 2 * base;
    c.select[base] = b | b << 4 | (b + 4) << 8 | (b + 4) << 12;
  }
  c.mask = (((1u << BITS) - 1u) << bit) * 0x00010001u;
  return c;
}

// 2^−o of column n (n·bits mod 8 = o: where its code sat in its byte).
template <int BITS>
__device__ __forceinline__ float kivi_column_factor(int n) { return 1.0f / (float)(1 << ((n * BITS) & 7)); }

// The f16 pair 1024 + (code of word lo, code of word hi)·2^o of lane `c`'s column; `base` (0, 1) as in KiviCodeLane.
__device__ __forceinline__ kv_u32 kivi_code_pair_1024(kv_u32 lo, kv_u32 hi, const KiviCodeLane& c, int base) {
  return (kivi_byte_perm(lo, hi, c.select[base]) & c.mask) | KIVI_F16_1024;
}
// The same without the 1024: (code, code)·2^o.
__device__ __forceinline__ kv_u32 kivi_code_pair(kv_u32 lo, kv_u32 hi, const KiviCodeLane& c, int base) {
  return kivi_hsub2(kivi_code_pair_1024(lo, hi, c, base), KIVI_F16_1024);
}

// ---- shared memory -------------------------------------------------------------------------------

// The arrays a stage holds, in stage order: key codes, key scales, key minimums, value codes, value
// scales, value minimums, key positions.
#define KIVI_MMA_ARRAYS 7
// Where a whole tile of one array comes from and goes: tile k of the block's head starts at
// `from` + k·bytes in global memory and lands at byte `to` of a stage (the copies table in shared
// memory, written once a block).
struct alignas(16) KiviMmaCopy {
  const unsigned char* from;
  int bytes, to;
};

// Byte offsets from the dynamic shared base; kivi-mma-plan.ts computes the same total.
struct KiviMmaLayout {
  int tileGroups, groupWords, valueWords, valueGroups, scaleBytes, stages;
  // key groups and value groups are powers of two (multiples of 16 dividing 128): log2 G and log2 (Gv / 8)
  int groupShift, valueTileShift;
  int qTile, qHalves, keyScale16, keyMin16, valueScale, valueMin, ring, stageBytes;
  // inside a stage
  int keyCodes, keyScale, keyMin, valueCodes, valueScaleRaw, valueMinRaw, keyPos;
  int total;
};

__device__ __forceinline__ int kivi_round16(int bytes) { return (bytes + 15) & ~15; }
__device__ __forceinline__ int kivi_log2(int x) {
  int s = 0;
  while ((1 << s) < x) s++;
  return s;
}

__device__ __forceinline__ KiviMmaLayout kivi_mma_layout(int d, int bits, int groupSize, int valueGroupSize, int scaleBytes, int stages) {
  const int perWord = 32 / bits;
  KiviMmaLayout L;
  L.tileGroups = KIVI_MMA_TILE / groupSize;
  L.groupWords = groupSize / perWord;
  L.valueGroups = d / valueGroupSize;
  L.valueWords = d / perWord;
  L.scaleBytes = scaleBytes;
  L.stages = stages;
  L.groupShift = kivi_log2(groupSize);
  L.valueTileShift = kivi_log2(valueGroupSize / 8);
  L.qTile = 0;
  L.qHalves = L.qTile + kivi_round16(MMA_DEC_ROWS * (d + MMA_DEC_PAD) * 4);
  L.keyScale16 = L.qHalves + MMA_DEC_ROWS * d * 2;
  L.keyMin16 = L.keyScale16 + L.tileGroups * d * 2;
  L.valueScale = L.keyMin16 + L.tileGroups * d * 2;
  L.valueMin = L.valueScale + L.valueGroups * KIVI_MMA_TILE * 2;
  L.ring = L.valueMin + L.valueGroups * KIVI_MMA_TILE * 2 + (KIVI_MMA_ARRAYS + 1) * (int)sizeof(KiviMmaCopy);  // the copies table just before the ring
  L.keyCodes = 0;
  L.keyScale = L.keyCodes + L.tileGroups * d * L.groupWords * 4;
  L.keyMin = L.keyScale + kivi_round16(L.tileGroups * d * scaleBytes);
  L.valueCodes = L.keyMin + kivi_round16(L.tileGroups * d * scaleBytes);
  L.valueScaleRaw = L.valueCodes + KIVI_MMA_TILE * L.valueWords * 4;
  L.valueMinRaw = L.valueScaleRaw + kivi_round16(KIVI_MMA_TILE * L.valueGroups * scaleBytes);
  L.keyPos = L.valueMinRaw + kivi_round16(KIVI_MMA_TILE * L.valueGroups * scaleBytes);
  L.stageBytes = L.keyPos + KIVI_MMA_TILE * 4;
  // mma_write_partials' scratch aliases everything from the base once the loop is done
  L.total = max(L.ring + stages * L.stageBytes, mma_scratch_floats(DEC_WARPS, d) * 4);
  return L;
}

// `bytes` from global `src` to shared `dst`, by the whole block: 16-byte cp.async when both are
// 16-byte aligned and the size whole 16-byte units, else plain 4- or 2-byte copies (every staged
// array is of 2- or 4-byte elements). Visible to the block after cp_async_wait and a barrier.
__device__ __forceinline__ void kivi_mma_copy(unsigned char* dst, const void* src, int bytes) {
  const unsigned char* from = static_cast<const unsigned char*>(src);
  const kv_u64 alignment = (kv_u64)from | (kv_u64)dst | (kv_u64)bytes;
  if ((alignment & 15) == 0) {
    for (int x = threadIdx.x * 16; x < bytes; x += blockDim.x * 16) cp_async16(smem_address(dst + x), from + x);
  } else if ((alignment & 3) == 0) {
    for (int x = threadIdx.x * 4; x < bytes; x += blockDim.x * 4) *reinterpret_cast<kv_u32*>(dst + x) = *reinterpret_cast<const kv_u32*>(from + x);
  } else {
    for (int x = threadIdx.x * 2; x < bytes; x += blockDim.x * 2) *reinterpret_cast<kv_u16*>(dst + x) = *reinterpret_cast<const kv_u16*>(from + x);
  }
}

__device__ __forceinline__ float kivi_scale_at(const unsigned char* base, int i, int scaleBytes) {
  return scaleBytes == 2 ? kv_f16_to_float(reinterpret_cast<const kv_u16*>(base)[i]) : reinterpret_cast<const float*>(base)[i];
}

// Where tile `tile0` (a multiple of the tile) meets the block's keys [j0, j1): tokens [a, b), key groups [gA, gB].
struct KiviMmaTile {
  int tile0, a, b, gA, gB;
};

__device__ __forceinline__ KiviMmaTile kivi_mma_tile(int tile0, int j0, int j1, const KiviMmaLayout& L) {
  KiviMmaTile T;
  T.tile0 = tile0;
  T.a = max(tile0, j0);
  T.b = min(tile0 + KIVI_MMA_TILE, j1);
  T.gA = T.a >> L.groupShift;
  T.gB = (T.b - 1) >> L.groupShift;
  return T;
}

// The copies table (KiviMmaCopy [KIVI_MMA_ARRAYS], then an int: whether whole tiles may take
// kivi_mma_stage_whole), just before the ring.
__device__ __forceinline__ const KiviMmaCopy* kivi_mma_table(const unsigned char* smem, const KiviMmaLayout& L) {
  return reinterpret_cast<const KiviMmaCopy*>(smem + L.ring) - KIVI_MMA_ARRAYS - 1;
}

// S: the tile's codes, scales, minimums and key positions into ring stage `stage`, for any tile (the
// partition's first and last may be partial: key groups gA…gB, tokens [a, b)), from the copies table.
__device__ __forceinline__ void kivi_mma_stage(unsigned char* stage, const unsigned char* smem, const KiviMmaLayout& L, const KiviMmaTile& T) {
  const KiviMmaCopy* copies = kivi_mma_table(smem, L);
  const int tile = T.tile0 / KIVI_MMA_TILE, g0 = T.gA - (T.tile0 >> L.groupShift), groups = T.gB - T.gA + 1;
  const int x0 = T.a - T.tile0, tokens = T.b - T.a;
#pragma unroll 1
  for (int a = 0; a < KIVI_MMA_ARRAYS; a++) {
    const KiviMmaCopy c = copies[a];
    // key arrays (0…2) by whole key groups, the others by tokens
    const int unit = a < 3 ? c.bytes / L.tileGroups : c.bytes / KIVI_MMA_TILE, at = (a < 3 ? g0 : x0) * unit;
    kivi_mma_copy(stage + c.to + at, c.from + (kv_i64)tile * c.bytes + at, (a < 3 ? groups : tokens) * unit);
  }
  // value scales/minimums outside [a, b) zero: the warps read them from the stage, and a zero
  // probability times a stale (perhaps not finite) scale must stay zero
  if (tokens < KIVI_MMA_TILE) {
    for (int e = threadIdx.x; e < KIVI_MMA_TILE * L.valueGroups; e += blockDim.x) {
      const int x = e / L.valueGroups;
      if (x >= x0 && x < x0 + tokens) continue;
      if (L.scaleBytes == 2) {
        reinterpret_cast<kv_u16*>(stage + L.valueScaleRaw)[e] = 0;
        reinterpret_cast<kv_u16*>(stage + L.valueMinRaw)[e] = 0;
      } else {
        reinterpret_cast<kv_u32*>(stage + L.valueScaleRaw)[e] = 0;
        reinterpret_cast<kv_u32*>(stage + L.valueMinRaw)[e] = 0;
      }
    }
  }
}

// The copies table of the block's head, written by threads 0…7: whole tiles may take
// kivi_mma_stage_whole when every array's tiles are 16-byte aligned starts and sizes.
__device__ __forceinline__ void kivi_mma_copies(unsigned char* smem, const KiviMmaLayout& L, const KiviVecSource& src, int d) {
  const kv_i64 kvh = blockIdx.y, group0 = kvh * src.keyGroupCap, token0 = kvh * src.valueTokenCap;
  const int sb = L.scaleBytes, keyScaleBytes = L.tileGroups * d * sb, valueScaleBytes = KIVI_MMA_TILE * L.valueGroups * sb;
  const KiviMmaCopy c[KIVI_MMA_ARRAYS] = {
      {reinterpret_cast<const unsigned char*>(src.keyCodes + group0 * d * L.groupWords), L.tileGroups * d * L.groupWords * 4, L.keyCodes},
      {static_cast<const unsigned char*>(src.keyScale) + group0 * d * sb, keyScaleBytes, L.keyScale},
      {static_cast<const unsigned char*>(src.keyMin) + group0 * d * sb, keyScaleBytes, L.keyMin},
      {reinterpret_cast<const unsigned char*>(src.valueCodes + token0 * L.valueWords), KIVI_MMA_TILE * L.valueWords * 4, L.valueCodes},
      {static_cast<const unsigned char*>(src.valueScale) + token0 * L.valueGroups * sb, valueScaleBytes, L.valueScaleRaw},
      {static_cast<const unsigned char*>(src.valueMin) + token0 * L.valueGroups * sb, valueScaleBytes, L.valueMinRaw},
      {reinterpret_cast<const unsigned char*>(src.kPos), KIVI_MMA_TILE * 4, L.keyPos}};
  kv_u64 alignment = 0;
#pragma unroll
  for (int a = 0; a < KIVI_MMA_ARRAYS; a++) alignment |= (kv_u64)c[a].from | (kv_u64)c[a].bytes;
  KiviMmaCopy* table = const_cast<KiviMmaCopy*>(kivi_mma_table(smem, L));
#pragma unroll
  for (int a = 0; a < KIVI_MMA_ARRAYS; a++)
    if ((int)threadIdx.x == a) table[a] = c[a];
  if (threadIdx.x == KIVI_MMA_ARRAYS) *reinterpret_cast<int*>(table + KIVI_MMA_ARRAYS) = (alignment & 15) == 0;
}

#if DEC_WARPS != 4
#error "kivi_mma_stage_whole shares a tile's copies among 4 warps"
#endif
// S for a whole tile `tile` (tile index: first token tile·KIVI_MMA_TILE) when kivi_mma_copies allows:
// warp 0 the key codes, warp 1 the value codes (16·D·BITS bytes each: D·BITS/32 16-byte copies a
// lane), warp 2 key scales and minimums, warp 3 value scales, minimums and key positions.
template <int D, int BITS>
__device__ __forceinline__ void kivi_mma_stage_whole(unsigned char* stage, const unsigned char* smem, const KiviMmaLayout& L, int tile) {
  const KiviMmaCopy* copies = kivi_mma_table(smem, L);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (warp < 2) {
    constexpr int BYTES = 16 * D * BITS;
    const KiviMmaCopy c = copies[warp == 0 ? 0 : 3];
    const unsigned char* from = c.from + (kv_i64)tile * BYTES + 16 * lane;
    unsigned char* to = stage + c.to + 16 * lane;
#pragma unroll
    for (int k = 0; k < BYTES / 512; k++) cp_async16(smem_address(to + 512 * k), from + 512 * k);
  } else {
    const int last = warp == 2 ? 3 : KIVI_MMA_ARRAYS;
#pragma unroll 1
    for (int a = warp == 2 ? 1 : 4; a < last; a++) {
      const KiviMmaCopy c = copies[a];
      const unsigned char* from = c.from + (kv_i64)tile * c.bytes;
      for (int x = 16 * lane; x < c.bytes; x += 512) cp_async16(smem_address(stage + c.to + x), from + x);
    }
  }
}

// S for tile T: whole tiles by kivi_mma_stage_whole where the copies table allows it, else kivi_mma_stage.
template <int D, int BITS>
__device__ __forceinline__ void kivi_mma_issue(unsigned char* stage, const unsigned char* smem, const KiviMmaLayout& L, const KiviMmaTile& T) {
  const bool whole = *reinterpret_cast<const int*>(kivi_mma_table(smem, L) + KIVI_MMA_ARRAYS) != 0;
  if (whole && T.a == T.tile0 && T.b == T.tile0 + KIVI_MMA_TILE) kivi_mma_stage_whole<D, BITS>(stage, smem, L, T.tile0 / KIVI_MMA_TILE);
  else kivi_mma_stage(stage, smem, L, T);
}

// P (f32 scales only; the warps transpose f16 ones themselves: kivi_mma_warp_values): from a landed
// stage, the value scales and minimums as f16 [group][token] (zero outside [a, b), as the stage) and
// the key groups' scales and minimums as f16 [group][channel].
__device__ __forceinline__ void kivi_mma_prepare(unsigned char* smem, const unsigned char* stage, const KiviMmaLayout& L, const KiviMmaTile& T, int d) {
  for (int e = threadIdx.x; e < L.valueGroups * KIVI_MMA_TILE; e += blockDim.x) {
    const int gc = e / KIVI_MMA_TILE, x = e - gc * KIVI_MMA_TILE;
    reinterpret_cast<kv_u16*>(smem + L.valueScale)[e] = kv_float_to_f16(reinterpret_cast<const float*>(stage + L.valueScaleRaw)[x * L.valueGroups + gc]);
    reinterpret_cast<kv_u16*>(smem + L.valueMin)[e] = kv_float_to_f16(reinterpret_cast<const float*>(stage + L.valueMinRaw)[x * L.valueGroups + gc]);
  }
  const int first = (T.gA - (T.tile0 >> L.groupShift)) * d, count = (T.gB - T.gA + 1) * d;
  for (int e = first + threadIdx.x; e < first + count; e += blockDim.x) {
    reinterpret_cast<kv_u16*>(smem + L.keyScale16)[e] = kv_float_to_f16(reinterpret_cast<const float*>(stage + L.keyScale)[e]);
    reinterpret_cast<kv_u16*>(smem + L.keyMin16)[e] = kv_float_to_f16(reinterpret_cast<const float*>(stage + L.keyMin)[e]);
  }
}

// The f16 value scales and minimums of warp tokens [x0, x0 + 32) from the stage's [token][group]
// into the [group][token] arrays the steps read (as P does for f32 ones): lane l takes tokens
// x0 + 2·(l % 16), +1 of the scales (l < 16) or minimums, a value group (Gv = d) or two a word.
// Only the warp reads what it writes: a __syncwarp, no block barrier.
__device__ __forceinline__ void kivi_mma_warp_values(unsigned char* smem, const unsigned char* stage, const KiviMmaLayout& L, int x0) {
  const int lane = threadIdx.x & 31, x = x0 + 2 * (lane & 15), VG = L.valueGroups;
  const unsigned char* raw = stage + (lane < 16 ? L.valueScaleRaw : L.valueMinRaw);
  kv_u32* out = reinterpret_cast<kv_u32*>(smem + (lane < 16 ? L.valueScale : L.valueMin)) + (x >> 1);
  if (VG == 1) {
    const kv_u16* in = reinterpret_cast<const kv_u16*>(raw) + x;
    out[0] = (kv_u32)in[0] | (kv_u32)in[1] << 16;
  } else {
    const kv_u32* in = reinterpret_cast<const kv_u32*>(raw) + x * (VG >> 1);  // group pairs of token x, then of x + 1
#pragma unroll
    for (int gp = 0; gp < 4; gp++) {
      if (2 * gp < VG) {
        const kv_u32 lo = in[gp], hi = in[(VG >> 1) + gp];
        out[(2 * gp) * (KIVI_MMA_TILE / 2)] = kivi_byte_perm(lo, hi, 0x5410);
        out[(2 * gp + 1) * (KIVI_MMA_TILE / 2)] = kivi_byte_perm(lo, hi, 0x7632);
      }
    }
  }
  __syncwarp();
}

// The block's query rows (qTile, f32, scaled) as f16 A fragments qHalves [k-step][lane][4], rows
// past the count zero (as qTile's).
__device__ __forceinline__ void kivi_mma_query_halves(unsigned char* smem, const KiviMmaLayout& L, int d) {
  const float* q = reinterpret_cast<const float*>(smem + L.qTile);
  kv_u32* halves = reinterpret_cast<kv_u32*>(smem + L.qHalves);
  for (int e = threadIdx.x; e < d / 16 * 32 * 4; e += blockDim.x) {
    // register e % 4 of lane (e / 4) % 32 in k-step e / 128: row g + 8·(reg & 1), columns 2t + 8·(reg ≥ 2), +1
    const int reg = e & 3, l = (e >> 2) & 31, ks = e >> 7;
    const int row = (l >> 2) + 8 * (reg & 1), col = 16 * ks + 2 * (l & 3) + 8 * (reg >> 1);
    halves[e] = mma_pack2<false>(q[row * (d + MMA_DEC_PAD) + col], q[row * (d + MMA_DEC_PAD) + col + 1]);
  }
}

// ---- the pass ------------------------------------------------------------------------------------

// C for one warp's STEPS 16-key steps at tile offset x0 (inside key group gi of the tile): scores,
// masks (unless `unmasked`: full steps of a tile every row sees, without soft-cap; `skipFirst`: the
// first step lies before the partition), softmax, P·V into o (DT value tiles, then the
// value-minimum tile). Two steps share Q', its biases and the softmax's reductions.
template <int D, int BITS, int STEPS>
__device__ __forceinline__ void kivi_mma_step(const unsigned char* smem, const unsigned char* stage, const KiviMmaLayout& L, int x0, int keys, bool unmasked,
                                              bool skipFirst, const MmaBlockRows& rows, int causal, int window, float softcap,
                                              const KiviCodeLane& code, MmaRowState& st, float (&o)[D / 8 + 1][4]) {
  constexpr int DK = D / 16, DT = D / 8, PER_WORD = 32 / BITS, VW = D / PER_WORD, NT = 2 * STEPS;
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int gi = x0 >> L.groupShift, inGroupWord = (x0 - (gi << L.groupShift)) / PER_WORD;  // the step starts a word
  // S = Q'·(1024 + codes·2^o) with Q' = q ⊙ s (one f16x2 multiply a register, per k-step), then
  // S·2^−o + q·mn − 1024·2^−o·ΣQ', where q·mn and ΣQ' come by mma too (B: the group's minimums,
  // and ones; every column of their C fragments holds the row's sum)
  const kv_u32* halves = reinterpret_cast<const kv_u32*>(smem + L.qHalves) + lane * 4;
  const unsigned char* scales = L.scaleBytes == 2 ? stage : smem;
  const kv_u32* scale = reinterpret_cast<const kv_u32*>(scales + (L.scaleBytes == 2 ? L.keyScale : L.keyScale16)) + gi * D / 2 + t;
  const kv_u32* minimum = reinterpret_cast<const kv_u32*>(scales + (L.scaleBytes == 2 ? L.keyMin : L.keyMin16)) + gi * D / 2 + t;
  const kv_u32* codes = reinterpret_cast<const kv_u32*>(stage + L.keyCodes) + gi * D * L.groupWords;
  float s[NT][4], bias[4] = {0.0f, 0.0f, 0.0f, 0.0f}, qSum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
  for (int h = 0; h < NT; h++) s[h][0] = s[h][1] = s[h][2] = s[h][3] = 0.0f;
#pragma unroll
  for (int ks = 0; ks < DK; ks++) {
    const KvVec16 q = *reinterpret_cast<const KvVec16*>(halves + ks * 32 * 4);
    const kv_u32 s0 = scale[8 * ks], s1 = scale[8 * ks + 4];  // channels 16ks + 2t, +1 and + 8, + 9
    const kv_u32 qa[4] = {kivi_hmul2(q.w[0], s0), kivi_hmul2(q.w[1], s0), kivi_hmul2(q.w[2], s1), kivi_hmul2(q.w[3], s1)};
    const kv_u32 mn[2] = {minimum[8 * ks], minimum[8 * ks + 4]};
    const kv_u32 ones[2] = {0x3c003c00u, 0x3c003c00u};
    mma_16816<false>(bias, q.w, mn);
    mma_16816<false>(qSum, qa, ones);
    const kv_u32* channel = codes + (ks * 16 + 2 * t) * L.groupWords;
    // A double step's 32 tokens are BITS words of each channel row, BITS·4-byte aligned (the step
    // starts a 32-token group slice, rows are whole groups): one 8- or 16-byte load a row (rows 2t,
    // 2t + 1, 2t + 8, 2t + 9). Single steps load word by word.
    kv_u32 rows[4][BITS];
    if (STEPS == 2) {
      const int at[4] = {inGroupWord, L.groupWords + inGroupWord, 8 * L.groupWords + inGroupWord, 9 * L.groupWords + inGroupWord};
#pragma unroll
      for (int r = 0; r < 4; r++) {
        if (BITS == 2) {
          const KiviVec8 v = *reinterpret_cast<const KiviVec8*>(channel + at[r]);
          rows[r][0] = v.w[0];
          rows[r][1] = v.w[1 % BITS];
        } else {
          const KvVec16 v = *reinterpret_cast<const KvVec16*>(channel + at[r]);
#pragma unroll
          for (int k = 0; k < BITS; k++) rows[r][k] = v.w[k % 4];
        }
      }
    }
#pragma unroll
    for (int h = 0; h < NT; h++) {
      // tokens 8h + (0..7) of the step: word 8h / PER_WORD of the step's, from its byte 0 or 2
      const int wi = 8 * h / PER_WORD, word = inGroupWord + wi, base = ((8 * h * BITS) & 31) >> 4;
      kv_u32 b[2];
      if (STEPS == 2) {
        b[0] = kivi_code_pair_1024(rows[0][wi % BITS], rows[1][wi % BITS], code, base);
        b[1] = kivi_code_pair_1024(rows[2][wi % BITS], rows[3][wi % BITS], code, base);
      } else {
        b[0] = kivi_code_pair_1024(channel[word], channel[L.groupWords + word], code, base);
        b[1] = kivi_code_pair_1024(channel[8 * L.groupWords + word], channel[9 * L.groupWords + word], code, base);
      }
      mma_16816<false>(s[h], qa, b);
    }
  }
  const float f0 = kivi_column_factor<BITS>(2 * t), f1 = kivi_column_factor<BITS>(2 * t + 1);
#pragma unroll
  for (int e = 0; e < 4; e++) bias[e] -= 1024.0f * (e & 1 ? f1 : f0) * qSum[e];  // C element e: row g + 8·(e ≥ 2), column 2t + e % 2
#pragma unroll
  for (int h = 0; h < NT; h++) {
#pragma unroll
    for (int e = 0; e < 4; e++) s[h][e] = s[h][e] * (e & 1 ? f1 : f0) + bias[e];
  }
  if (!unmasked) {  // the rows' positions read here: no registers held through the loop
    const kv_i32 rowPos[2] = {rows.position[g], rows.position[g + 8]};
    const bool rowLive[2] = {g < rows.count, g + 8 < rows.count};
    mma_mask_scores<NT>(s, reinterpret_cast<const kv_i32*>(stage + L.keyPos) + x0, nullptr, keys, rowPos, rowLive, causal, window, softcap);
  }
  if (STEPS == 2 && skipFirst) {  // warp-uniform; after the masks, whose soft-cap would make −∞ finite
#pragma unroll
    for (int e = 0; e < 4; e++) s[0][e] = s[1][e] = -KV_INF;
  }
  // The softmax step on a probe tile of ones, which comes back as the rows' rescale factors; the
  // 17 output tiles take them only when some row of the warp has a new max (a factor ≠ 1: rare
  // once a few hundred keys are in; skipping a factor of exactly 1 changes nothing).
  float factor[1][4] = {{1.0f, 1.0f, 1.0f, 1.0f}};
  mma_softmax_step<NT, 1>(s, st, factor);
  if (__any_sync(0xffffffffu, factor[0][0] != 1.0f || factor[0][2] != 1.0f)) {
#pragma unroll
    for (int j = 0; j <= DT; j++) {
      o[j][0] *= factor[0][0];
      o[j][1] *= factor[0][0];
      o[j][2] *= factor[0][2];
      o[j][3] *= factor[0][2];
    }
  }
  kv_u32 pa[STEPS][4];
  mma_probability_fragments<false, STEPS>(s, pa);
  const kv_u32* valueScale = reinterpret_cast<const kv_u32*>(smem + L.valueScale);
  const kv_u32* valueMin = reinterpret_cast<const kv_u32*>(smem + L.valueMin);
#pragma unroll
  for (int kk = 0; kk < STEPS; kk++) {
    const int xk = x0 + KIVI_MMA_STEP * kk;
    const int pairAt = (xk + 2 * t) >> 1;  // f16 pair (tokens xk + 2t, +1) in a [group][token] row of u32 pairs
    // the value-minimum tile: column gc of B = vmn[token][gc] (zero past the value groups)
    {
      kv_u32 b[2] = {0u, 0u};
      if (g < L.valueGroups) {
        b[0] = valueMin[g * (KIVI_MMA_TILE / 2) + pairAt];
        b[1] = valueMin[g * (KIVI_MMA_TILE / 2) + pairAt + 4];
      }
      mma_16816<false>(o[DT], pa[kk], b);
    }
    // O += P'_gc · value codes (column factors 2^o, taken off at the end), n-tile j = channels
    // 8j..8j+7 of value group j·8 / Gv; the 4 tokens' words 2 at a time (8-byte loads)
    const kv_u32* valueCodes = reinterpret_cast<const kv_u32*>(stage + L.valueCodes) + (xk + 2 * t) * VW;
    kv_u32 pv[4];
    KiviVec8 w[4];  // words 2·(j·8 / PER_WORD / 2), +1 of tokens xk + 2t, +1, +8, +9 (8-byte loads: 8 live registers, not 16)
#pragma unroll
    for (int j = 0; j < DT; j++) {
      const int word = 8 * j / PER_WORD, base = ((8 * j * BITS) & 31) >> 4;
      if ((8 * j) % (2 * PER_WORD) == 0) {  // compile-time: the first n-tile of the next 2 words
        w[0] = *reinterpret_cast<const KiviVec8*>(valueCodes + word);
        w[1] = *reinterpret_cast<const KiviVec8*>(valueCodes + VW + word);
        w[2] = *reinterpret_cast<const KiviVec8*>(valueCodes + 8 * VW + word);
        w[3] = *reinterpret_cast<const KiviVec8*>(valueCodes + 9 * VW + word);
      }
      if (j % 2 == 0 && (j & ((1 << L.valueTileShift) - 1)) == 0) {  // a new value group (groups hold ≥ 2 tiles; warp-uniform)
        const int gc = j >> L.valueTileShift;
        const kv_u32 s0 = valueScale[gc * (KIVI_MMA_TILE / 2) + pairAt], s1 = valueScale[gc * (KIVI_MMA_TILE / 2) + pairAt + 4];
        pv[0] = kivi_hmul2(pa[kk][0], s0);
        pv[1] = kivi_hmul2(pa[kk][1], s0);
        pv[2] = kivi_hmul2(pa[kk][2], s1);
        pv[3] = kivi_hmul2(pa[kk][3], s1);
      }
      kv_u32 b[2];
      b[0] = kivi_code_pair(w[0].w[word % 2], w[1].w[word % 2], code, base);
      b[1] = kivi_code_pair(w[2].w[word % 2], w[3].w[word % 2], code, base);
      mma_16816<false>(o[j], pv, b);
    }
  }
}

// The body, after the block's query rows are in shared memory (qTile, f32, scaled). One copy per
// (head dim, bits); the scale dtype and group sizes are run-time values.
template <int D, int BITS>
__device__ __noinline__ void kivi_mma_body(const KiviVecSource& src, float* partAcc, float* partStat, const MmaBlockRows& rowsOf, int j0, int j1, int causal,
                                           int window, float softcap, int stages) {
  constexpr int DT = D / 8;
  const KiviMmaLayout L = kivi_mma_layout(D, BITS, src.groupSize, src.valueGroupSize, src.scaleF16 ? 2 : 4, stages);
  KV_DYNAMIC_SHARED(kv_decode_smem);
  unsigned char* smem = kv_decode_smem;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2;
  const int rc = rowsOf.count;
  const KiviCodeLane code = kivi_code_lane<BITS>(g);
  // The live rows' position range (after the copies table's flag, read where the masks may be
  // skipped: no registers held through the loop): a key at or before the first (causal) and within
  // the window of the last is visible to every row.
  kv_i32* rowRange = const_cast<kv_i32*>(reinterpret_cast<const kv_i32*>(kivi_mma_table(smem, L) + KIVI_MMA_ARRAYS)) + 1;
  if (threadIdx.x == 0) {
    kv_i32 firstRow = rowsOf.position[0], lastRow = rowsOf.position[0];
    for (int r = 1; r < rc; r++) {
      firstRow = min(firstRow, rowsOf.position[r]);
      lastRow = max(lastRow, rowsOf.position[r]);
    }
    rowRange[0] = firstRow;
    rowRange[1] = lastRow;
  }

  kivi_mma_query_halves(smem, L, D);  // read after the loop's first barrier
  kivi_mma_copies(smem, L, src, D);
  __syncthreads();  // the copies table, the row range

  const int first = j0 / KIVI_MMA_TILE * KIVI_MMA_TILE;
  const int tiles = (j1 - 1) / KIVI_MMA_TILE - first / KIVI_MMA_TILE + 1;
  for (int i = 0; i < stages - 1; i++) {
    if (i < tiles) kivi_mma_issue<D, BITS>(smem + L.ring + i * L.stageBytes, smem, L, kivi_mma_tile(first + i * KIVI_MMA_TILE, j0, j1, L));
    cp_async_commit();
  }
  MmaRowState st;
  mma_state_init(st);
  float o[DT + 1][4];
#pragma unroll
  for (int j = 0; j <= DT; j++) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;

  for (int i = 0; i < tiles; i++) {
    if (stages == 3) cp_async_wait<1>();
    else cp_async_wait<0>();
    __syncthreads();  // tile i has landed; every warp is done with tile i − 1 (its stage, P's arrays)
    const int ahead = i + stages - 1;
    if (ahead < tiles) kivi_mma_issue<D, BITS>(smem + L.ring + (ahead % stages) * L.stageBytes, smem, L, kivi_mma_tile(first + ahead * KIVI_MMA_TILE, j0, j1, L));
    cp_async_commit();
    const unsigned char* stage = smem + L.ring + (i % stages) * L.stageBytes;
    const KiviMmaTile T = kivi_mma_tile(first + i * KIVI_MMA_TILE, j0, j1, L);
    if (L.scaleBytes == 4) {  // block-uniform
      kivi_mma_prepare(smem, stage, L, T, D);
      __syncthreads();
    }
    // warp w: tile tokens [32w, 32w + 32), as one double step inside a key group, or two single
    // steps (groups of 16); partitions start on a step, so a double step may lose its first half
    const int x0 = 2 * KIVI_MMA_STEP * warp, token0 = T.tile0 + x0;
    if (token0 + 2 * KIVI_MMA_STEP > T.a && token0 < T.b) {  // warp-uniform
      // Whether every key of the warp's 32 (lane x0 + lane's) is visible to every row: then full
      // steps skip the masks (rows past the count keep finite scores there, which nothing reads).
      // Without soft-cap only.
      bool hidden = false;
      if ((causal || window > 0) && token0 + lane >= T.a && token0 + lane < T.b) {
        const kv_i32 kp = reinterpret_cast<const kv_i32*>(stage + L.keyPos)[x0 + lane];
        const kv_i32* rowRange = reinterpret_cast<const kv_i32*>(kivi_mma_table(smem, L) + KIVI_MMA_ARRAYS) + 1;
        hidden = !dec_visible(rowRange[0], kp, causal, 0) || !dec_visible(rowRange[1], kp, 0, window);
      }
      const bool unmasked = softcap == 0.0f && !__any_sync(0xffffffffu, hidden);
      if (L.scaleBytes == 2) kivi_mma_warp_values(smem, stage, L, x0);
      if (L.groupShift >= 5) {
        kivi_mma_step<D, BITS, 2>(smem, stage, L, x0, T.b - token0, unmasked && token0 + 2 * KIVI_MMA_STEP <= T.b, token0 < T.a, rowsOf, causal, window,
                                  softcap, code, st, o);
      } else {
#pragma unroll 1
        for (int x = x0; x < x0 + 2 * KIVI_MMA_STEP; x += KIVI_MMA_STEP) {
          const int token = T.tile0 + x;
          if (token + KIVI_MMA_STEP <= T.a || token >= T.b) continue;  // warp-uniform
          kivi_mma_step<D, BITS, 1>(smem, stage, L, x, T.b - token, unmasked && token + KIVI_MMA_STEP <= T.b, false, rowsOf, causal, window, softcap,
                                    code, st, o);
        }
      }
    }
  }
  cp_async_wait<0>();
  // Each channel's fragment loses its column factor and takes its value group's Σ p·vmn from the
  // value-minimum tile: column gc of rows g, g+8 lives on lane 4g + gc/2, element gc%2 (row g) and
  // 2 + gc%2 (row g+8).
  float (&out)[DT][4] = reinterpret_cast<float (&)[DT][4]>(o);
  const int t = lane & 3;
  const float f0 = kivi_column_factor<BITS>(2 * t), f1 = kivi_column_factor<BITS>(2 * t + 1);
#pragma unroll
  for (int j = 0; j < DT; j++) {
    const int gc = j >> L.valueTileShift;
    const float m0 = __shfl_sync(0xffffffffu, (gc & 1) ? o[DT][1] : o[DT][0], 4 * g + (gc >> 1));
    const float m1 = __shfl_sync(0xffffffffu, (gc & 1) ? o[DT][3] : o[DT][2], 4 * g + (gc >> 1));
    out[j][0] = out[j][0] * f0 + m0;
    out[j][1] = out[j][1] * f1 + m0;
    out[j][2] = out[j][2] * f0 + m1;
    out[j][3] = out[j][3] * f1 + m1;
  }
  mma_write_partials<DT>(out, st, reinterpret_cast<float*>(smem), rowsOf, D, partAcc, partStat);
}

// Rows 16·z + 8·half … of StandardRows as the 16-byte pass's 8-row chunk blockIdx.z sees them: the
// residual blocks of the mma kernel (16 rows a block) run that pass on each half of their rows.
struct KiviHalfRows {
  StandardRows base;
  int shift;  // added to the pass's row index: 8·z + 8·half
  __device__ __forceinline__ int count(int kvh) const { return base.count(kvh) - shift; }
  __device__ __forceinline__ kv_i64 queryRow(int kvh, int rr) const { return base.queryRow(kvh, rr + shift); }
  template <class Source>
  __device__ __forceinline__ kv_i32 queryPosition(const Source& src, int kvh, int rr) const { return base.queryPosition(src, kvh, rr + shift); }
  __device__ __forceinline__ kv_i64 slot(int part, int kvh, int rr) const { return base.slot(part, kvh, rr + shift); }
  template <class Source>
  __device__ __forceinline__ bool keys(const Source& src, int part, int kvh, int& j0, int& j1) const { return base.keys(src, part, kvh, j0, j1); }
};

// The tensor-core KIVI pass: blocks of MMA_DEC_ROWS rows; a block whose keys reach the residual
// window (keys or values) runs the 16-byte pass on its two halves instead (block-uniform).
__device__ __forceinline__ void kivi_decode_partial_mma(float* partAcc, float* partStat, const void* Q, int queryDtype, const KiviVecSource src,
                                                        const StandardRows rowMap, float scale, int causal, int window, float softcap, int stages) {
  int j0 = 0, j1 = 0;
  rowMap.keys(src, blockIdx.x, blockIdx.y, j0, j1);
  if (j1 > src.keyTokens || j1 > src.valueTokens) {
    for (int half = 0; half < 2; half++) {
      if (half) __syncthreads();  // the first half's last reads of shared memory
      kivi_decode_partial_vec(partAcc, partStat, Q, queryDtype, src, KiviHalfRows{rowMap, 8 * (int)blockIdx.z + 8 * half}, scale, causal, window, softcap);
    }
    return;
  }
  KV_DYNAMIC_SHARED(kv_decode_smem);
  float* qTile = reinterpret_cast<float*>(kv_decode_smem);
  MmaBlockRows rowsOf;
  const bool any = queryDtype == KIVI_QUERY_F16    ? mma_stage_rows(static_cast<const kv_f16*>(Q), src, rowMap, src.d, scale, qTile, rowsOf, j0, j1)
                   : queryDtype == KIVI_QUERY_BF16 ? mma_stage_rows(static_cast<const kv_bf16*>(Q), src, rowMap, src.d, scale, qTile, rowsOf, j0, j1)
                                                   : mma_stage_rows(static_cast<const float*>(Q), src, rowMap, src.d, scale, qTile, rowsOf, j0, j1);
  if (!any || j1 <= j0) return;
  __syncthreads();
  if (src.d == 128) {
    if (src.bits == 2) kivi_mma_body<128, 2>(src, partAcc, partStat, rowsOf, j0, j1, causal, window, softcap, stages);
    else kivi_mma_body<128, 4>(src, partAcc, partStat, rowsOf, j0, j1, causal, window, softcap, stages);
  } else {
    if (src.bits == 2) kivi_mma_body<64, 2>(src, partAcc, partStat, rowsOf, j0, j1, causal, window, softcap, stages);
    else kivi_mma_body<64, 4>(src, partAcc, partStat, rowsOf, j0, j1, causal, window, softcap, stages);
  }
}
