// kvkit's CUDA emulator: compiles CUDA C kernels with a host C++ compiler and runs them on the CPU,
// so kernel logic (indexing, launch geometry, NaN rules, rounding, the packed layout, even the
// tensor-core fragment layouts) is tested on machines without a GPU. Every CUDA thread of a block
// runs as a fiber on one OS thread; __syncthreads and warp collectives (shuffles, ldmatrix, mma)
// switch fibers at barriers. It checks logic, not the memory model or performance.
// Included first (g++ -include) with KVKIT_EMULATOR defined.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __shared__ static
#define __launch_bounds__(...)
#define __global__ KVEMU_GLOBAL

namespace kvemu {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// A cp.async issued by a thread and not yet landed: its 16 bytes (read from global memory when
// issued) reach shared memory only when a cp.async.wait_group releases its group, so a kernel that
// reads a tile before waiting for it (or before the barrier after another thread's wait) reads
// stale data here too, as it could on a GPU.
struct PendingCopy {
  void* dst;
  unsigned char bytes[16];
  unsigned size;   // 4, 8 or 16
  unsigned group;  // the number of commits before it was issued
};

struct Fiber {
  void* sp = nullptr;
  char* stack = nullptr;
  Dim3 tid;
  int linear = 0;
  bool done = false;
  std::vector<PendingCopy> copies;
  unsigned commits = 0;
};

constexpr size_t kStackBytes = 256 * 1024;

inline void (*g_body)() = nullptr;  // the kernel call for the current launch (closure in g_call)
inline std::vector<Fiber> g_fibers;
inline Fiber* g_current = nullptr;
inline void* g_scheduler_sp = nullptr;
inline Dim3 g_block, g_grid, g_blockDim;
inline int g_live = 0;
inline int g_block_arrived = 0;
inline unsigned long g_block_gen = 0;
// __syncthreads_or: whether any thread of the barrier in progress passed a nonzero predicate, and
// the answer of the last completed one (read by the threads it releases).
inline int g_block_or_pending = 0;
inline int g_block_or_result = 0;
inline std::vector<int> g_warp_live, g_warp_arrived, g_warp_size;
inline std::vector<unsigned long> g_warp_gen;
inline std::vector<uint64_t> g_warp_slots;  // 32 × 8 words per warp, for collectives
inline std::vector<unsigned char> g_dynamic_shared;
inline int g_idle_rounds = 0;
inline char g_error[512] = {0};

}  // namespace kvemu

#if defined(__x86_64__)
// Minimal context switch: save callee-saved registers on the current stack, swap stacks.
extern "C" void kvemu_switch(void** save, void* next);
asm(R"(
.text
.p2align 4
.type kvemu_switch,@function
kvemu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size kvemu_switch, .-kvemu_switch
)");
#else
#error "the kvkit CUDA emulator needs x86-64"
#endif

namespace kvemu {

inline void yield() { kvemu_switch(&g_current->sp, g_scheduler_sp); }

[[noreturn]] inline void fiber_exit() {
  g_current->done = true;
  kvemu_switch(&g_current->sp, g_scheduler_sp);
  __builtin_unreachable();
}

inline void fiber_entry() {
  g_body();
  fiber_exit();
}

inline void prepare_fiber(Fiber& f) {
  if (!f.stack) f.stack = static_cast<char*>(std::aligned_alloc(64, kStackBytes));
  uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack) + kStackBytes) & ~uintptr_t(15);
  void** sp = reinterpret_cast<void**>(top);
  *--sp = nullptr;                                        // alignment slot (as if called)
  *--sp = reinterpret_cast<void*>(&fiber_entry);          // `ret` lands here
  for (int i = 0; i < 6; i++) *--sp = nullptr;            // rbp rbx r12 r13 r14 r15
  f.sp = sp;
  f.done = false;
  f.copies.clear();  // copies a thread never waited for do not outlive its block
  f.commits = 0;
}

inline int warp_of(const Fiber* f) { return f->linear >> 5; }
inline int lane_of(const Fiber* f) { return f->linear & 31; }

// __syncthreads: every live thread of the block arrives before any continues.
inline void block_barrier() {
  const unsigned long gen = g_block_gen;
  if (++g_block_arrived == g_live) {
    g_block_arrived = 0;
    ++g_block_gen;
    return;
  }
  while (g_block_gen == gen) yield();
}

// __syncthreads_or: the barrier above, returning to every thread whether any passed a nonzero
// predicate. The result of one barrier is overwritten only when the next completes, which needs
// every thread to have returned from this one first.
inline int block_barrier_or(int predicate) {
  const unsigned long gen = g_block_gen;
  if (predicate) g_block_or_pending = 1;
  if (++g_block_arrived == g_live) {
    g_block_arrived = 0;
    g_block_or_result = g_block_or_pending;
    g_block_or_pending = 0;
    ++g_block_gen;
    return g_block_or_result;
  }
  while (g_block_gen == gen) yield();
  return g_block_or_result;
}

// A barrier among the live threads of the calling thread's warp (warp collectives).
inline void warp_barrier() {
  const int w = warp_of(g_current);
  const unsigned long gen = g_warp_gen[w];
  if (++g_warp_arrived[w] == g_warp_live[w]) {
    g_warp_arrived[w] = 0;
    ++g_warp_gen[w];
    return;
  }
  while (g_warp_gen[w] == gen) yield();
}

// Every lane publishes `words` 64-bit words; after the call each lane can read all lanes' words.
inline uint64_t* warp_exchange(const uint64_t* words, int count) {
  const int w = warp_of(g_current), lane = lane_of(g_current);
  uint64_t* slots = &g_warp_slots[size_t(w) * 32 * 8];
  warp_barrier();  // nobody still reads the previous exchange
  for (int i = 0; i < count; i++) slots[lane * 8 + i] = words[i];
  warp_barrier();
  return slots;
}

template <class T>
inline T shuffle(T value, int source) {
  static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
  uint64_t word = 0;
  std::memcpy(&word, &value, sizeof(T));
  uint64_t* slots = warp_exchange(&word, 1);
  // Lanes of a partial warp that do not exist return the caller's own value (lanes that already
  // exited still count: their last published value stays readable, like registers of exited threads).
  const int size = g_warp_size[warp_of(g_current)];
  const int src = (source >= 0 && source < size) ? source : lane_of(g_current);
  T out;
  std::memcpy(&out, &slots[src * 8], sizeof(T));
  return out;
}

// A warp vote over the lanes of the calling thread's warp: any (or all) predicates nonzero.
inline int warp_vote(int predicate, bool any) {
  const uint64_t word = predicate != 0;
  uint64_t* slots = warp_exchange(&word, 1);
  const int size = g_warp_size[warp_of(g_current)];
  int result = any ? 0 : 1;
  for (int lane = 0; lane < size; lane++) result = any ? (result | int(slots[lane * 8])) : (result & int(slots[lane * 8]));
  return result;
}

// ---- f16 / bf16 conversions in software (round to nearest even) ----------------------------------

inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) bits = sign;
    else {
      float f = std::ldexp(float(mant), -24);
      std::memcpy(&bits, &f, 4);
      bits |= sign;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

inline uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  if ((x & 0x7fffffff) > 0x7f800000) return sign | 0x7e00;  // NaN
  const float a = std::fabs(f);
  if (a >= 65520.0f) return sign | 0x7c00;                   // rounds to infinity
  if (a < 6.103515625e-05f) {                                 // subnormal: multiples of 2^-24
    const float scaled = a * 16777216.0f;                     // exact
    return sign | uint16_t(std::nearbyint(scaled));           // nearest, ties to even
  }
  uint32_t ax = x & 0x7fffffff;
  const uint32_t lsb = (ax >> 13) & 1;
  ax += 0xfff + lsb;
  return sign | uint16_t(((ax >> 13) - (112u << 10)) & 0x7fff);
}

inline uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return uint16_t((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return uint16_t(x >> 16);
}

// ---- asynchronous copies (cp.async), landing only when waited for ---------------------------------

// cp.async.shared.global of `size` bytes (4, 8 or 16; zeros when !valid: src-size 0).
inline void cp_async(void* dst, const void* src, unsigned size, bool valid) {
  PendingCopy c{dst, {}, size, g_current->commits};
  if (valid) std::memcpy(c.bytes, src, size);
  g_current->copies.push_back(c);
}

inline void cp_async_commit() { g_current->commits++; }

// cp.async.wait_group N: every committed group but the newest N lands; copies not yet committed stay pending.
inline void cp_async_wait(unsigned newest) {
  Fiber& f = *g_current;
  const unsigned landed = f.commits > newest ? f.commits - newest : 0;  // groups 0 .. landed − 1
  size_t kept = 0;
  for (size_t i = 0; i < f.copies.size(); i++) {
    PendingCopy& c = f.copies[i];
    if (c.group < landed) std::memcpy(c.dst, c.bytes, c.size);
    else f.copies[kept++] = c;
  }
  f.copies.resize(kept);
}

// ---- tensor-core instructions, by their documented fragment layouts -----------------------------

// ldmatrix.m8n8.x4(.trans): lane 8j+r gives the address of row r of matrix j; lane l receives in
// register j the pair (row l/4, cols 2(l%4), +1) of matrix j — or, transposed, (rows 2(l%4), +1; col l/4).
inline void ldmatrix_x4(uint32_t* regs, const void* address, bool trans) {
  uint64_t word = reinterpret_cast<uintptr_t>(address);
  uint64_t* slots = warp_exchange(&word, 1);
  const int lane = lane_of(g_current);
  uint16_t lo, hi;
  for (int j = 0; j < 4; j++) {
    if (!trans) {
      const uint16_t* row = reinterpret_cast<const uint16_t*>(slots[(8 * j + lane / 4) * 8]);
      lo = row[2 * (lane % 4)];
      hi = row[2 * (lane % 4) + 1];
    } else {
      const uint16_t* row0 = reinterpret_cast<const uint16_t*>(slots[(8 * j + 2 * (lane % 4)) * 8]);
      const uint16_t* row1 = reinterpret_cast<const uint16_t*>(slots[(8 * j + 2 * (lane % 4) + 1) * 8]);
      lo = row0[lane / 4];
      hi = row1[lane / 4];
    }
    regs[j] = uint32_t(lo) | (uint32_t(hi) << 16);
  }
  warp_barrier();  // keep the addresses until every lane has read
}

// mma.sync.m16n8k16.row.col f32 += f16/bf16 × f16/bf16.
inline void mma_m16n8k16(float* c, const uint32_t* a, const uint32_t* b, bool bf16) {
  uint64_t words[6];
  for (int i = 0; i < 4; i++) words[i] = a[i];
  words[4] = b[0];
  words[5] = b[1];
  uint64_t* slots = warp_exchange(words, 6);
  auto value = [&](uint64_t word, int half) {
    const uint16_t bits = uint16_t(word >> (16 * half));
    if (bf16) {
      const uint32_t f = uint32_t(bits) << 16;
      float out;
      std::memcpy(&out, &f, 4);
      return out;
    }
    return half_to_float(bits);
  };
  float A[16][16], B[16][8];
  for (int l = 0; l < 32; l++) {
    const int g = l / 4, t = l % 4;
    const uint64_t* w = &slots[l * 8];
    for (int h = 0; h < 2; h++) {
      A[g][2 * t + h] = value(w[0], h);
      A[g + 8][2 * t + h] = value(w[1], h);
      A[g][2 * t + 8 + h] = value(w[2], h);
      A[g + 8][2 * t + 8 + h] = value(w[3], h);
      B[2 * t + h][g] = value(w[4], h);
      B[2 * t + 8 + h][g] = value(w[5], h);
    }
  }
  warp_barrier();
  const int lane = lane_of(g_current), g = lane / 4, t = lane % 4;
  for (int q = 0; q < 4; q++) {
    const int row = g + (q >> 1) * 8, col = 2 * t + (q & 1);
    float s = c[q];
    for (int k = 0; k < 16; k++) s += A[row][k] * B[k][col];
    c[q] = s;
  }
}

// ---- launch ------------------------------------------------------------------------------------

// Runs `body` once per thread of every block. Returns 0, or 1 with g_error set (barrier deadlock).
inline int run_grid(Dim3 grid, Dim3 block, unsigned sharedBytes, void (*body)()) {
  g_grid = grid;
  g_blockDim = block;
  g_body = body;
  const int threads = int(block.x * block.y * block.z);
  const int warps = (threads + 31) / 32;
  if (g_fibers.size() < size_t(threads)) g_fibers.resize(threads);
  g_warp_live.assign(warps, 0);
  g_warp_arrived.assign(warps, 0);
  g_warp_size.assign(warps, 0);
  g_warp_gen.assign(warps, 0);
  g_warp_slots.assign(size_t(warps) * 32 * 8, 0);
  g_dynamic_shared.assign(sharedBytes + 16, 0);
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++) {
        g_block = Dim3{bx, by, bz};
        for (int i = 0; i < threads; i++) {
          Fiber& f = g_fibers[i];
          f.linear = i;
          f.tid = Dim3{unsigned(i) % block.x, (unsigned(i) / block.x) % block.y, unsigned(i) / (block.x * block.y)};
          prepare_fiber(f);
        }
        g_live = threads;
        g_block_arrived = 0;
        for (int w = 0; w < warps; w++) {
          g_warp_live[w] = g_warp_size[w] = std::min(32, threads - 32 * w);
          g_warp_arrived[w] = 0;
        }
        int finished = 0;
        while (finished < threads) {
          const unsigned long blockGen = g_block_gen;
          unsigned long warpGens = 0;
          for (unsigned long g : g_warp_gen) warpGens += g;
          int progressed = 0;
          for (int i = 0; i < threads; i++) {
            Fiber& f = g_fibers[i];
            if (f.done) continue;
            g_current = &f;
            kvemu_switch(&g_scheduler_sp, f.sp);
            if (f.done) {
              finished++;
              progressed++;
              g_live--;
              const int w = warp_of(&f);
              g_warp_live[w]--;
              // A thread that exits no longer holds back a barrier the others wait at.
              if (g_block_arrived > 0 && g_block_arrived == g_live) {
                g_block_arrived = 0;
                ++g_block_gen;
              }
              if (g_warp_arrived[w] > 0 && g_warp_arrived[w] == g_warp_live[w]) {
                g_warp_arrived[w] = 0;
                ++g_warp_gen[w];
              }
            }
          }
          unsigned long warpGensAfter = 0;
          for (unsigned long g : g_warp_gen) warpGensAfter += g;
          if (!progressed && blockGen == g_block_gen && warpGens == warpGensAfter) {
            std::snprintf(g_error, sizeof(g_error), "barrier deadlock in block (%u,%u,%u): %d of %d threads wait at __syncthreads, the others elsewhere", bx,
                          by, bz, g_block_arrived, g_live);
            return 1;
          }
        }
      }
  return 0;
}

template <class... A, size_t... I>
inline void call_with(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
  kernel(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
}

template <class... A>
inline int launch(void (*kernel)(A...), Dim3 grid, Dim3 block, unsigned sharedBytes, void** args) {
  static void (*s_kernel)(A...);
  static void** s_args;
  s_kernel = kernel;
  s_args = args;
  g_error[0] = 0;
  return run_grid(grid, block, sharedBytes, [] { call_with(s_kernel, s_args, std::index_sequence_for<A...>{}); });
}

inline unsigned char* dynamic_shared() { return g_dynamic_shared.data(); }

}  // namespace kvemu

// ---- the CUDA names kernels use ----------------------------------------------------------------

#define threadIdx (kvemu::g_current->tid)
#define blockIdx (kvemu::g_block)
#define blockDim (kvemu::g_blockDim)
#define gridDim (kvemu::g_grid)

inline void __syncthreads() { kvemu::block_barrier(); }
inline int __syncthreads_or(int predicate) { return kvemu::block_barrier_or(predicate); }
inline void __syncwarp(unsigned = 0xffffffffu) { kvemu::warp_barrier(); }
template <class T>
inline T __shfl_xor_sync(unsigned, T value, int laneMask) {
  return kvemu::shuffle(value, kvemu::lane_of(kvemu::g_current) ^ laneMask);
}
template <class T>
inline T __shfl_down_sync(unsigned, T value, unsigned delta) {
  const int lane = kvemu::lane_of(kvemu::g_current);
  return kvemu::shuffle(value, lane + int(delta) < 32 ? lane + int(delta) : lane);
}
template <class T>
inline T __shfl_sync(unsigned, T value, int source) {
  return kvemu::shuffle(value, source & 31);
}
// Warp votes: whether any / every lane of the warp (its live lanes) passed a nonzero predicate.
inline int __any_sync(unsigned, int predicate) { return kvemu::warp_vote(predicate, true); }
inline int __all_sync(unsigned, int predicate) { return kvemu::warp_vote(predicate, false); }

// One OS thread runs every fiber and no fiber yields inside these, so plain updates are atomic.
template <class T>
inline T atomicAdd(T* address, T value) {
  T old = *address;
  *address = T(old + value);
  return old;
}
template <class T>
inline T atomicMax(T* address, T value) {
  T old = *address;
  if (value > old) *address = value;
  return old;
}
template <class T>
inline T atomicCAS(T* address, T compare, T value) {
  T old = *address;
  if (old == compare) *address = value;
  return old;
}

inline float __int_as_float(int x) {
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
inline float __uint_as_float(unsigned x) {
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
inline int __float_as_int(float f) {
  int x;
  std::memcpy(&x, &f, 4);
  return x;
}
inline unsigned __float_as_uint(float f) {
  unsigned x;
  std::memcpy(&x, &f, 4);
  return x;
}
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __double2float_rz(double d) {
  float f = float(d);
  if (std::isfinite(d) && std::fabs(double(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  return f;
}
using std::max;
using std::min;
