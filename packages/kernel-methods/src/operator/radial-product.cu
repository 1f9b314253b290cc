// K(x, y)·V for a radial kernel in one fused pass (device-radial-product.ts launches it and says how).
// The sizes come from that file, which prepends their #defines; the defaults below are the same
// values, so the file compiles on its own for the repository's nvcc check.
#ifndef KM_ROWS
#define KM_ROWS 128
#endif
#ifndef KM_STAGE
#define KM_STAGE 32
#endif
#ifndef KM_MAXD
#define KM_MAXD 64
#endif
#ifndef KM_COLS
#define KM_COLS 8
#endif
typedef long long kv_i64;
#include "radial-profile.cuh"

// partial[p, i, l0 + l] = Σ_{j in chunk p} f(‖x_i − y_j‖²)·v[j, l0 + l] for l < 8; grid (row blocks, chunks, column groups).
extern "C" __global__ void km_radial_product(float* partial, const float* x, const float* y, const float* v, int n, int m, int d, int k, int chunk, int code, float a, float b) {
  __shared__ float ys[KM_STAGE * KM_MAXD];
  __shared__ float vs[KM_STAGE * KM_COLS];
  const int i = blockIdx.x * KM_ROWS + threadIdx.x;
  const int j0 = blockIdx.y * chunk;
  const int j1 = j0 + chunk < m ? j0 + chunk : m;
  const int l0 = blockIdx.z * KM_COLS;
  const int width = k - l0 < KM_COLS ? k - l0 : KM_COLS;
  float xi[KM_MAXD];
  for (int t = 0; t < d; t++) xi[t] = i < n ? x[(kv_i64)i * d + t] : 0.0f;
  float acc[KM_COLS];
#pragma unroll
  for (int l = 0; l < KM_COLS; l++) acc[l] = 0.0f;
  for (int c0 = j0; c0 < j1; c0 += KM_STAGE) {
    const int rows = j1 - c0 < KM_STAGE ? j1 - c0 : KM_STAGE;
    __syncthreads();
    for (int e = threadIdx.x; e < rows * d; e += KM_ROWS) ys[e] = y[(kv_i64)c0 * d + e];
    for (int e = threadIdx.x; e < rows * KM_COLS; e += KM_ROWS) {
      const int r = e / KM_COLS, l = e % KM_COLS;
      vs[e] = l < width ? v[(kv_i64)(c0 + r) * k + l0 + l] : 0.0f;
    }
    __syncthreads();
    for (int r = 0; r < rows; r++) {
      float s = 0.0f;
      for (int t = 0; t < d; t++) {
        const float q = xi[t] - ys[r * d + t];
        s += q * q;
      }
      const float f = km_profile<float>(code, s, a, b);
#pragma unroll
      for (int l = 0; l < KM_COLS; l++) acc[l] += f * vs[r * KM_COLS + l];
    }
  }
  if (i < n) {
    float* out = partial + ((kv_i64)blockIdx.y * n + i) * k + l0;
    for (int l = 0; l < width; l++) out[l] = acc[l];
  }
}

// out[e] = Σ_p partial[p·size + e].
extern "C" __global__ void km_sum_partials(float* out, const float* partial, int parts, kv_i64 size) {
  for (kv_i64 e = (kv_i64)blockIdx.x * blockDim.x + threadIdx.x; e < size; e += (kv_i64)gridDim.x * blockDim.x) {
    float s = 0.0f;
    for (int p = 0; p < parts; p++) s += partial[(kv_i64)p * size + e];
    out[e] = s;
  }
}
