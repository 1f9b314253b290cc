// The packed low-bit layout of packing.ts: floor(32/bits) codes per u32 word, first code in the
// lowest bits, no code straddling two words, every group of `groupSize` codes starting on a fresh word.
#include "kvkit/prelude.cuh"

#define CHECK_CODE 3

// One thread per output word.
template <class C>
__device__ void pack_bits(kv_u32* words, const C* codes, kv_i64 rows, kv_i64 n, kv_i64 wordsPerRow, int bits, kv_i64 groupSize, kv_u32* flag) {
  const int vpw = 32 / bits;
  const kv_i64 perGroup = (groupSize + vpw - 1) / vpw;
  const kv_u64 limit = 1ull << bits;
  KV_GRID_LOOP(e, rows * wordsPerRow) {
    const kv_i64 row = e / wordsPerRow;
    const kv_i64 w = e - row * wordsPerRow;
    const kv_i64 g = w / perGroup;
    const kv_i64 first = g * groupSize + (w - g * perGroup) * vpw;
    const kv_i64 groupEnd = min(g * groupSize + groupSize, n);
    kv_u32 word = 0;
    for (int k = 0; k < vpw && first + k < groupEnd; k++) {
      const kv_u64 code = (kv_u64)codes[row * n + first + k];
      if (code >= limit) kv_report_error(flag, CHECK_CODE, (kv_i64)code, row * n + first + k, bits);
      word |= (kv_u32)(code & (limit - 1)) << (k * bits);
    }
    words[e] = word;
  }
}

// One thread per code.
extern "C" __global__ void kv_unpack_bits(kv_u8* codes, const kv_u32* words, kv_i64 rows, kv_i64 n, kv_i64 wordsPerRow, int bits, kv_i64 groupSize) {
  KV_GRID_LOOP(e, rows * n) codes[e] = (kv_u8)kv_grouped_code(words, e, n, groupSize, wordsPerRow, bits).code;
}

extern "C" __global__ void kv_pack_bits_u8(kv_u32* words, const kv_u8* codes, kv_i64 rows, kv_i64 n, kv_i64 wordsPerRow, int bits, kv_i64 groupSize,
                                           kv_u32* flag) {
  pack_bits(words, codes, rows, n, wordsPerRow, bits, groupSize, flag);
}
extern "C" __global__ void kv_pack_bits_u32(kv_u32* words, const kv_u32* codes, kv_i64 rows, kv_i64 n, kv_i64 wordsPerRow, int bits,
                                            kv_i64 groupSize, kv_u32* flag) {
  pack_bits(words, codes, rows, n, wordsPerRow, bits, groupSize, flag);
}
