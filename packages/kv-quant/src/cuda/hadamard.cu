// Block fast Walsh–Hadamard rotation of kv-quant (src/kernels/hadamard.ts) on CUDA, bit-exact with
// the CPU kernel: values widened to double, the butterflies of numeric/hadamard.ts fwhtInPlace in
// the same (Sylvester) order, each a + b and a − b rounded to double, then · (1 / √B) in double
// (the host's value, passed in) and one rounding to f32. Double sums and products are IEEE on
// every GPU, and there is no multiply-add here for the compiler to fuse.
#include "kvkit/prelude.cuh"

// One thread per block of `blockSize` values; `scratch` holds the block's doubles (rows · n).
template <class T>
__device__ void hadamard_blocks(float* out, double* scratch, const T* x, kv_i64 count, kv_i64 blockSize, double norm) {
  KV_GRID_LOOP(b, count) {
    const kv_i64 base = b * blockSize;
    double* v = scratch + base;
    for (kv_i64 i = 0; i < blockSize; i++) v[i] = (double)KvType<T>::load(x[base + i]);
    for (kv_i64 h = 1; h < blockSize; h *= 2) {
      for (kv_i64 i = 0; i < blockSize; i += 2 * h) {
        for (kv_i64 j = i; j < i + h; j++) {
          const double a = v[j];
          const double c = v[j + h];
          v[j] = a + c;
          v[j + h] = a - c;
        }
      }
    }
    for (kv_i64 i = 0; i < blockSize; i++) out[base + i] = (float)(v[i] * norm);
  }
}

#define KV_HADAMARD(T, TN)                                                                                                          \
  extern "C" __global__ void kv_hadamard_##TN(float* out, double* scratch, const T* x, kv_i64 count, kv_i64 blockSize, double norm) { \
    hadamard_blocks<T>(out, scratch, x, count, blockSize, norm);                                                                     \
  }
KV_HADAMARD(float, f32)
KV_HADAMARD(kv_f16, f16)
KV_HADAMARD(kv_bf16, bf16)
