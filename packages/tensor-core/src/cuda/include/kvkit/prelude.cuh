// kvkit CUDA prelude: the types and helpers every kvkit kernel shares. Self-contained (no CUDA or C
// library headers), so it compiles the same under NVRTC and nvcc. Include it as "kvkit/prelude.cuh".
#pragma once

typedef signed char kv_i8;
typedef unsigned char kv_u8;
typedef unsigned short kv_u16;
typedef int kv_i32;
typedef unsigned int kv_u32;
typedef long long kv_i64;
typedef unsigned long long kv_u64;

// f16 and bf16 travel as their bit patterns (the same representation tensors use on the host).
struct kv_f16 {
  kv_u16 bits;
};
struct kv_bf16 {
  kv_u16 bits;
};

#define KV_INF __int_as_float(0x7f800000)
#define KV_NAN __int_as_float(0x7fc00000)

__device__ __forceinline__ bool kv_isnan(float x) { return x != x; }
__device__ __forceinline__ bool kv_isnan(double x) { return x != x; }

// ---- 16-bit floats: round to nearest even, NaN and infinities preserved -------------------------

#ifdef KVKIT_EMULATOR  // the CPU emulator of @kvkit/cuda-runtime converts in software
__device__ __forceinline__ float kv_f16_to_float(kv_u16 h) { return kvemu::half_to_float(h); }
__device__ __forceinline__ kv_u16 kv_float_to_f16(float f) { return kvemu::float_to_half(f); }
__device__ __forceinline__ kv_u16 kv_float_to_bf16(float f) { return kvemu::float_to_bf16(f); }
#else
__device__ __forceinline__ float kv_f16_to_float(kv_u16 h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
__device__ __forceinline__ kv_u16 kv_float_to_f16(float f) {
  kv_u16 h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
__device__ __forceinline__ kv_u16 kv_float_to_bf16(float f) {
  kv_u16 h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
#endif
__device__ __forceinline__ float kv_bf16_to_float(kv_u16 b) { return __uint_as_float(((kv_u32)b) << 16); }

// A double rounded to f32 "to odd" (truncate, then set the last bit when inexact). Rounding that
// f32 to f16/bf16 (≥ 2 fewer bits) then equals rounding the double directly: one rounding, as on
// the CPU backend.
__device__ __forceinline__ float kv_f64_to_f32_odd(double d) {
  float f = __double2float_rz(d);
  if (!kv_isnan(d) && (double)f != d) f = __uint_as_float(__float_as_uint(f) | 1u);
  return f;
}

// Code j of group g of one row in tensor-core's packed layout (packing.ts): ⌊32/bits⌋ codes per u32
// word, the first in the low bits, no code straddling words, each group starting on a fresh word.
__device__ __forceinline__ kv_u32 kv_packed_code(const kv_u32* row, kv_i64 g, kv_i64 wordsPerGroup, kv_i64 j, int bits) {
  const int vpw = 32 / bits;
  return (row[g * wordsPerGroup + j / vpw] >> ((j % vpw) * bits)) & ((1u << bits) - 1u);
}

// Element e of a rows × n tensor in that layout (rows of wordsPerRow words, groups of groupSize along
// n): its code, and its group's index row · groups + g (where per-group scales and zeros live).
struct KvGroupedCode {
  kv_u32 code;
  kv_i64 group;
};
__device__ __forceinline__ KvGroupedCode kv_grouped_code(const kv_u32* words, kv_i64 e, kv_i64 n, kv_i64 groupSize, kv_i64 wordsPerRow, int bits) {
  const kv_i64 wordsPerGroup = (groupSize + 32 / bits - 1) / (32 / bits);
  const kv_i64 row = e / n;
  const kv_i64 i = e - row * n;
  const kv_i64 g = i / groupSize;
  KvGroupedCode out;
  out.code = kv_packed_code(words + row * wordsPerRow, g, wordsPerGroup, i - g * groupSize, bits);
  out.group = row * ((n + groupSize - 1) / groupSize) + g;
  return out;
}

// ---- dtype traits: storage type T, compute type C, load/store ----------------------------------

template <class T>
struct KvType;

template <>
struct KvType<float> {
  typedef float C;
  static __device__ __forceinline__ float load(float v) { return v; }
  static __device__ __forceinline__ float store(float c) { return c; }
  static __device__ __forceinline__ float from_double(double d) { return (float)d; }
  static constexpr bool is_float = true;
};
template <>
struct KvType<kv_f16> {
  typedef float C;
  static __device__ __forceinline__ float load(kv_f16 v) { return kv_f16_to_float(v.bits); }
  static __device__ __forceinline__ kv_f16 store(float c) { return kv_f16{kv_float_to_f16(c)}; }
  static __device__ __forceinline__ kv_f16 from_double(double d) { return kv_f16{kv_float_to_f16(kv_f64_to_f32_odd(d))}; }
  static constexpr bool is_float = true;
};
template <>
struct KvType<kv_bf16> {
  typedef float C;
  static __device__ __forceinline__ float load(kv_bf16 v) { return kv_bf16_to_float(v.bits); }
  static __device__ __forceinline__ kv_bf16 store(float c) { return kv_bf16{kv_float_to_bf16(c)}; }
  static __device__ __forceinline__ kv_bf16 from_double(double d) { return kv_bf16{kv_float_to_bf16(kv_f64_to_f32_odd(d))}; }
  static constexpr bool is_float = true;
};

// Integers compute in 64 bits and wrap on store, like the CPU backend's typed arrays.
#define KV_INTEGER_TYPE(T)                                                          \
  template <>                                                                       \
  struct KvType<T> {                                                                \
    typedef kv_i64 C;                                                               \
    static __device__ __forceinline__ kv_i64 load(T v) { return (kv_i64)v; }        \
    static __device__ __forceinline__ T store(kv_i64 c) { return (T)c; }            \
    static __device__ __forceinline__ T from_double(double d) { return (T)(kv_i64)d; } \
    static constexpr bool is_float = false;                                             \
  };
KV_INTEGER_TYPE(kv_i8)
KV_INTEGER_TYPE(kv_u8)
KV_INTEGER_TYPE(kv_i32)
KV_INTEGER_TYPE(kv_u32)
#undef KV_INTEGER_TYPE

// Instantiates M(suffix, type) for every dtype / for the float dtypes. Kernel names end in the
// dtype's name, e.g. kv_unary_f16.
#define KV_FOR_FLOAT_DTYPES(M) M(f32, float) M(f16, kv_f16) M(bf16, kv_bf16)
#define KV_FOR_ALL_DTYPES(M) KV_FOR_FLOAT_DTYPES(M) M(i8, kv_i8) M(u8, kv_u8) M(i32, kv_i32) M(u32, kv_u32)

// ---- strided views ------------------------------------------------------------------------------

#define KV_MAX_RANK 8

// A strided view: element (i0, …, i_{r-1}) sits at offset + Σ i_d · stride[d] (in elements).
// Passed by value; the TypeScript side packs the same layout (layout-arg.ts).
struct KvLayout {
  kv_i64 shape[KV_MAX_RANK];
  kv_i64 stride[KV_MAX_RANK];
  kv_i64 offset;
  kv_i32 rank;
  kv_i32 reserved;
};

// Offset of the element with row-major index `linear` in the view.
__device__ __forceinline__ kv_i64 kv_offset(const KvLayout& layout, kv_i64 linear) {
  kv_i64 offset = layout.offset;
#pragma unroll
  for (int d = KV_MAX_RANK - 1; d >= 0; --d) {
    if (d < layout.rank) {
      kv_i64 size = layout.shape[d];
      kv_i64 q = linear / size;
      offset += (linear - q * size) * layout.stride[d];
      linear = q;
    }
  }
  return offset;
}

// Dynamic shared memory (the launch's sharedBytes) as a byte array named `name`.
#ifdef KVKIT_EMULATOR
#define KV_DYNAMIC_SHARED(name) unsigned char* name = kvemu::dynamic_shared()
#else
#define KV_DYNAMIC_SHARED(name) extern __shared__ __attribute__((aligned(16))) unsigned char name[]
#endif

// Grid-stride loop over [0, n).
#define KV_GRID_LOOP(i, n) \
  for (kv_i64 i = (kv_i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (kv_i64)gridDim.x * blockDim.x)

// ---- reductions ----------------------------------------------------------------------------------

__device__ __forceinline__ float kv_warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double kv_warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// Max that propagates NaN (a NaN anywhere makes the result NaN, as on the CPU backend).
__device__ __forceinline__ float kv_max_nan(float a, float b) { return (kv_isnan(a) || a > b) ? a : (kv_isnan(b) ? b : (b > a ? b : a)); }
__device__ __forceinline__ float kv_min_nan(float a, float b) { return (kv_isnan(a) || a < b) ? a : (kv_isnan(b) ? b : (b < a ? b : a)); }
__device__ __forceinline__ float kv_warp_max_nan(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = kv_max_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum / NaN-propagating max for blocks of up to 1024 threads (multiple of 32). Every
// thread gets the result. `scratch` holds 32 values; the call begins and ends with a barrier.
template <class V>
__device__ __forceinline__ V kv_block_sum(V v, V* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = kv_warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  V total = lane < warps ? scratch[lane] : (V)0;
  return kv_warp_sum(total);
}
__device__ __forceinline__ float kv_block_max_nan(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = kv_warp_max_nan(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float m = lane < warps ? scratch[lane] : -KV_INF;
  return kv_warp_max_nan(m);
}

// ---- device-side input errors -------------------------------------------------------------------

// Kernels that validate data (indices, code ranges) report the first problem into a 4-word flag
// buffer the backend reads at the next download or synchronize: [code, value, position, limit].
__device__ __forceinline__ void kv_report_error(kv_u32* flag, kv_u32 code, kv_i64 value, kv_i64 position, kv_i64 limit) {
  if (atomicCAS(flag, 0u, code) == 0u) {
    flag[1] = (kv_u32)value;
    flag[2] = (kv_u32)position;
    flag[3] = (kv_u32)limit;
  }
}
