// Layout kernels: strided copies (contiguous, assign, concat) by element width, and dtype casts.
#include "kvkit/prelude.cuh"

// dst[dstLayout(i)] = src[srcLayout(i)] for every row-major index i < n. Width-typed, dtype-agnostic.
template <class W>
__device__ __forceinline__ void strided_copy(W* __restrict__ dst, const W* __restrict__ src, const KvLayout& dl, const KvLayout& sl, kv_i64 n) {
  KV_GRID_LOOP(i, n) dst[kv_offset(dl, i)] = src[kv_offset(sl, i)];
}

extern "C" __global__ void kv_strided_copy_b1(kv_u8* dst, const kv_u8* src, KvLayout dl, KvLayout sl, kv_i64 n) { strided_copy(dst, src, dl, sl, n); }
extern "C" __global__ void kv_strided_copy_b2(kv_u16* dst, const kv_u16* src, KvLayout dl, KvLayout sl, kv_i64 n) { strided_copy(dst, src, dl, sl, n); }
extern "C" __global__ void kv_strided_copy_b4(kv_u32* dst, const kv_u32* src, KvLayout dl, KvLayout sl, kv_i64 n) { strided_copy(dst, src, dl, sl, n); }

// A copy that transposes: along axis a the source is contiguous, along axis b the destination is,
// and the rest are `batches` (layouts db / sb over those axes, offsets included). Element by element
// one of the two sides would touch a new 32-byte sector per element (the strided kernel reaches
// ≈ 10 % of the copy bandwidth); here each 64 × 64 tile is read along a and written along b through
// shared memory, so both sides move whole sectors. A thread loads its 16 elements of a tile before
// storing any, so 16 loads per thread are in flight (with 32 × 32 tiles and 4 per thread an H200
// reached 41 % of its copy bandwidth). Blocks of KV_TILE_THREADS walk the tiles grid-stride.
#define KV_TILE 64
#define KV_TILE_THREADS 256
template <class W>
__device__ __forceinline__ void tile_transpose(W* __restrict__ dst, const W* __restrict__ src, const KvLayout& db, const KvLayout& sb, kv_i64 A, kv_i64 B,
                                               kv_i64 dstStrideA, kv_i64 srcStrideB, kv_i64 batches) {
  __shared__ W tile[KV_TILE][KV_TILE + 1];  // +1: the transposed reads of a warp hit 32 different banks
  constexpr int ROWS = KV_TILE_THREADS / KV_TILE, PER_THREAD = KV_TILE / ROWS;
  const int tx = threadIdx.x % KV_TILE, ty = threadIdx.x / KV_TILE;
  const kv_i64 tilesA = (A + KV_TILE - 1) / KV_TILE, tilesB = (B + KV_TILE - 1) / KV_TILE, perBatch = tilesA * tilesB;
  for (kv_i64 t = blockIdx.x; t < perBatch * batches; t += gridDim.x) {  // block-uniform: the barriers below are safe
    const kv_i64 batch = t / perBatch, inBatch = t - batch * perBatch;
    const kv_i64 a0 = (inBatch / tilesB) * KV_TILE, b0 = (inBatch % tilesB) * KV_TILE;
    const W* s = src + kv_offset(sb, batch);
    W* d = dst + kv_offset(db, batch);
    W v[PER_THREAD];
#pragma unroll
    for (int k = 0; k < PER_THREAD; k++) {
      const kv_i64 a = a0 + tx, b = b0 + ty + k * ROWS;
      v[k] = a < A && b < B ? s[a + b * srcStrideB] : W(0);
    }
#pragma unroll
    for (int k = 0; k < PER_THREAD; k++) tile[ty + k * ROWS][tx] = v[k];
    __syncthreads();
#pragma unroll
    for (int k = 0; k < PER_THREAD; k++) {
      const kv_i64 a = a0 + ty + k * ROWS, b = b0 + tx;
      if (a < A && b < B) d[a * dstStrideA + b] = tile[tx][ty + k * ROWS];
    }
    __syncthreads();  // the tile is read before the next one overwrites it
  }
}

#define KV_TILE_TRANSPOSE(name, W)                                                                                                            \
  extern "C" __global__ void name(W* dst, const W* src, KvLayout db, KvLayout sb, kv_i64 A, kv_i64 B, kv_i64 dstStrideA, kv_i64 srcStrideB, kv_i64 batches) { \
    tile_transpose(dst, src, db, sb, A, B, dstStrideA, srcStrideB, batches);                                                                 \
  }
KV_TILE_TRANSPOSE(kv_transpose_copy_b1, kv_u8)
KV_TILE_TRANSPOSE(kv_transpose_copy_b2, kv_u16)
KV_TILE_TRANSPOSE(kv_transpose_copy_b4, kv_u32)
#undef KV_TILE_TRANSPOSE

template <class T>
struct KvRange {
  static __device__ __forceinline__ double lo() { return 0; }
  static __device__ __forceinline__ double hi() { return 0; }
};
#define KV_RANGE(T, LO, HI)                                       \
  template <>                                                     \
  struct KvRange<T> {                                             \
    static __device__ __forceinline__ double lo() { return LO; }  \
    static __device__ __forceinline__ double hi() { return HI; }  \
  };
KV_RANGE(kv_i8, -128.0, 127.0)
KV_RANGE(kv_u8, 0.0, 255.0)
KV_RANGE(kv_i32, -2147483648.0, 2147483647.0)
KV_RANGE(kv_u32, 0.0, 4294967295.0)
#undef KV_RANGE

// One value of S as D, with the CPU backend's rules: floats round to nearest even (once); float →
// integer truncates toward zero and saturates, NaN → 0; integer → integer saturates.
template <class S, class D>
__device__ __forceinline__ D cast_value(S x) {
  if constexpr (KvType<D>::is_float) {
    if constexpr (KvType<S>::is_float) return KvType<D>::store(KvType<S>::load(x));
    else return KvType<D>::from_double((double)KvType<S>::load(x));
  } else {
    double v = (double)KvType<S>::load(x);
    if (kv_isnan(v)) return (D)0;
    v = trunc(v);
    v = v < KvRange<D>::lo() ? KvRange<D>::lo() : (v > KvRange<D>::hi() ? KvRange<D>::hi() : v);
    return (D)(kv_i64)v;
  }
}

#define KV_CAST(sn, S, dn, D)                                                                                 \
  extern "C" __global__ void kv_cast_##sn##_to_##dn(D* __restrict__ dst, const S* __restrict__ src, KvLayout sl, kv_i64 n) { \
    KV_GRID_LOOP(i, n) dst[i] = cast_value<S, D>(src[kv_offset(sl, i)]);                                    \
  }
#define KV_CAST_TO_ALL(sn, S) \
  KV_CAST(sn, S, f32, float)  \
  KV_CAST(sn, S, f16, kv_f16) \
  KV_CAST(sn, S, bf16, kv_bf16) \
  KV_CAST(sn, S, i8, kv_i8)   \
  KV_CAST(sn, S, u8, kv_u8)   \
  KV_CAST(sn, S, i32, kv_i32) \
  KV_CAST(sn, S, u32, kv_u32)
KV_FOR_ALL_DTYPES(KV_CAST_TO_ALL)
