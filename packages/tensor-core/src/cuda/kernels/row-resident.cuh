// Rows held in registers, for single-pass row kernels (softmax, RMSNorm): each row is read once
// into `lanes` threads (a power of two, 32..KV_ROW_MAX_LANES; several rows per block when the row
// needs fewer threads than the block has), reduced with warp shuffles plus one shared-memory step,
// and written once. A thread holds VECS × E elements, E = the elements of 16 bytes.
#pragma once
#include "kvkit/prelude.cuh"
#include "kvkit/vec16.cuh"

// Widest row: 512 threads × 4 vectors × 16 bytes = 8192 f32 or 16384 f16/bf16 elements.
#define KV_ROW_MAX_LANES 512

// Instantiates M(args..., VECS, layout, VECTORS) for every single-pass variant the launcher
// (row-resident.ts) picks from: 1, 2 or 4 vectors per thread, `v` (16-byte loads) or `s` (element loads).
#define KV_FOR_ROW_RESIDENT_VARIANTS(M, ...) \
  M(__VA_ARGS__, 1, v, true) M(__VA_ARGS__, 2, v, true) M(__VA_ARGS__, 4, v, true) M(__VA_ARGS__, 1, s, false) M(__VA_ARGS__, 2, s, false) M(__VA_ARGS__, 4, s, false)

// One 16-byte load / store at a 16-byte aligned address. Spelled in PTX: from plain struct copies
// nvcc split some of a thread's vectors into four word accesses. Volatile, so a load is never moved
// out of the bounds test that guards it.
__device__ __forceinline__ KvVec16 kv_row_load16(const void* p) {
#ifdef KVKIT_EMULATOR
  return *static_cast<const KvVec16*>(p);
#else
  KvVec16 b;
  asm volatile("ld.global.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(b.w[0]), "=r"(b.w[1]), "=r"(b.w[2]), "=r"(b.w[3]) : "l"(p));
  return b;
#endif
}
__device__ __forceinline__ void kv_row_store16(void* p, const KvVec16& b) {
#ifdef KVKIT_EMULATOR
  *static_cast<KvVec16*>(p) = b;
#else
  asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(b.w[0]), "r"(b.w[1]), "r"(b.w[2]), "r"(b.w[3]) : "memory");
#endif
}

// Where a thread sits: row `row` of the block's rowsPerBlock rows, lane `lane` of that row's `lanes`.
struct KvRowSlot {
  int lanes, lane, row, rowsPerBlock;
};
__device__ __forceinline__ KvRowSlot kv_row_slot(int lanes) {
  KvRowSlot s;
  s.lanes = lanes;
  s.lane = threadIdx.x & (lanes - 1);
  s.row = threadIdx.x / lanes;
  s.rowsPerBlock = blockDim.x / lanes;
  return s;
}

// The row element in a thread's slot k. With VECTORS (every row start 16-byte aligned, which the
// launcher checks), slot k is element k % E of vector (k / E) · lanes + lane; without, element
// k · lanes + lane. Either way a warp's accesses for one slot (or vector) are contiguous. The two
// layouts are separate kernels: one kernel with both would hold the registers of the heavier.
template <class T, bool VECTORS>
__device__ __forceinline__ kv_i64 kv_row_index(int k, const KvRowSlot& s) {
  constexpr int E = KvVec16Lanes<T>::E;
  return VECTORS ? ((kv_i64)(k / E) * s.lanes + s.lane) * E + k % E : (kv_i64)k * s.lanes + s.lane;
}

// Loads a thread's slots of a row of n elements; slots past the end (or of an inactive row) get `pad`.
// All vector loads are issued before any value is used.
template <class T, int VECS, bool VECTORS>
__device__ __forceinline__ void kv_row_load(float* v, const T* row, kv_i64 n, const KvRowSlot& s, bool active, float pad) {
  constexpr int E = KvVec16Lanes<T>::E;
  if (VECTORS) {
#pragma unroll
    for (int q = 0; q < VECS; q++) {
      const kv_i64 i = kv_row_index<T, true>(q * E, s);
      if (active && i < n) {
        KvVec16Lanes<T>::unpack(kv_row_load16(row + i), v + q * E);
      } else {
#pragma unroll
        for (int j = 0; j < E; j++) v[q * E + j] = pad;
      }
    }
  } else {
#pragma unroll
    for (int k = 0; k < VECS * E; k++) {
      const kv_i64 i = kv_row_index<T, false>(k, s);
      v[k] = active && i < n ? KvType<T>::load(row[i]) : pad;
    }
  }
}

// Slots q·E … q·E + E − 1 of a row of dtype S laid out as T's (a norm's weight beside its input):
// one 16-byte load where S is as wide as T and VECTORS (so aligned: the launcher checks every base
// it is given), element loads otherwise; 0 past the end.
template <class T, class S, bool VECTORS>
__device__ __forceinline__ void kv_row_load_vector_as(float* out, const S* row, kv_i64 n, int q, const KvRowSlot& s) {
  constexpr int E = KvVec16Lanes<T>::E;
  if (VECTORS && sizeof(S) == sizeof(T)) {
    const kv_i64 i = kv_row_index<T, true>(q * E, s);
    if (i < n) {
      KvVec16Lanes<S>::unpack(kv_row_load16(row + i), out);
    } else {
#pragma unroll
      for (int j = 0; j < E; j++) out[j] = 0.0f;
    }
  } else {
#pragma unroll
    for (int j = 0; j < E; j++) {
      const kv_i64 i = kv_row_index<T, VECTORS>(q * E + j, s);
      out[j] = i < n ? KvType<S>::load(row[i]) : 0.0f;
    }
  }
}

// Stores a thread's slots that lie inside the row (the layout kv_row_load read).
template <class T, int VECS, bool VECTORS>
__device__ __forceinline__ void kv_row_store(T* row, const float* v, kv_i64 n, const KvRowSlot& s) {
  constexpr int E = KvVec16Lanes<T>::E;
  if (VECTORS) {
#pragma unroll
    for (int q = 0; q < VECS; q++) {
      const kv_i64 i = kv_row_index<T, true>(q * E, s);
      if (i < n) kv_row_store16(row + i, KvVec16Lanes<T>::pack(v + q * E));
    }
  } else {
#pragma unroll
    for (int k = 0; k < VECS * E; k++) {
      const kv_i64 i = kv_row_index<T, false>(k, s);
      if (i < n) row[i] = KvType<T>::store(v[k]);
    }
  }
}

struct KvRowSum {
  template <class V>
  __device__ __forceinline__ V operator()(V a, V b) const { return a + b; }
};
struct KvRowMax {
  __device__ __forceinline__ float operator()(float a, float b) const { return kv_max_nan(a, b); }
};

// Combines v over the `lanes` threads of each row; every thread of the row gets the result, in the
// same order of operations. Warp shuffles, then, for rows wider than a warp, one exchange through
// `scratch` (KV_ROW_MAX_LANES / 32 slots). Every thread of the block must call it (barriers).
template <class Op, class V>
__device__ __forceinline__ V kv_row_reduce(V v, V* scratch, int lanes) {
  const Op op;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (lanes <= 32) return v;
  const int warp = threadIdx.x >> 5, warpsPerRow = lanes >> 5, firstWarp = warp & ~(warpsPerRow - 1);
  __syncthreads();  // an earlier reduction may still be reading scratch
  if ((threadIdx.x & 31) == 0) scratch[warp] = v;
  __syncthreads();
  V total = scratch[firstWarp];
  for (int w = 1; w < warpsPerRow; w++) total = op(total, scratch[firstWarp + w]);
  return total;
}
