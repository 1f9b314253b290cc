// kvkit CUDA async copies: 16 (or 4) bytes global → shared without waiting for the data (cp.async, sm_80+),
// so a block issues a whole tile, computes on something else, then waits once. Every module gets
// this header; include it as "kvkit/async-copy.cuh". On the CPU emulator of @kvkit/cuda-runtime
// (KVKIT_EMULATOR) a copy lands only when a wait releases its group, so reading a tile before the
// wait shows there as stale data; the emulator runs threads in order between barriers, so a
// missing barrier after the wait shows only when a lower thread reads a higher thread's copies.
// Wait, then barrier, before the block reads what it copied.
#pragma once
#include "kvkit/prelude.cuh"

#ifdef KVKIT_EMULATOR
typedef const void* SmemAddress;
__device__ __forceinline__ SmemAddress smem_address(const void* p) { return p; }
__device__ __forceinline__ void cp_async16(SmemAddress dst, const void* src, bool valid = true) { kvemu::cp_async(const_cast<void*>(dst), src, 16, valid); }
__device__ __forceinline__ void cp_async4(SmemAddress dst, const void* src, bool valid = true) { kvemu::cp_async(const_cast<void*>(dst), src, 4, valid); }
__device__ __forceinline__ void cp_async_commit() { kvemu::cp_async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { kvemu::cp_async_wait(N); }
#else
// A shared-memory address as the 32-bit window offset cp.async and ldmatrix take.
typedef kv_u32 SmemAddress;
__device__ __forceinline__ SmemAddress smem_address(const void* p) {
  kv_u32 a;
  asm volatile("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
  return a;
}
// Zero-filled when `valid` is false (nothing is read).
__device__ __forceinline__ void cp_async16(SmemAddress dst, const void* src, bool valid = true) {
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes));
}
// 4 bytes (a position, a scale): cp.async.ca, the only kind that copies fewer than 16 bytes.
__device__ __forceinline__ void cp_async4(SmemAddress dst, const void* src, bool valid = true) {
  const int bytes = valid ? 4 : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
// This thread's copy groups but the newest N have landed; a barrier after it makes every thread's
// copies visible to the block.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}
#endif
