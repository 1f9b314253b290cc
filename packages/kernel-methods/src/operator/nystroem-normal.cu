// The Nyström normal equations in float64 on the GPU (device-nystroem-normal.ts launches it and
// says why): a chunk of rows [K_nm | Y] evaluated in double, then its Gram matrix added into G.
// The sizes come from that file, which prepends their #defines; the defaults below are the same
// values, so the file compiles on its own for the repository's nvcc check.
#ifndef KM_TILE
#define KM_TILE 32
#endif
#ifndef KM_STEP
#define KM_STEP 16
#endif
typedef long long kv_i64;
#include "radial-profile.cuh"

// rows[i, j] = f(‖x_i − c_j‖²) for j < m (the squared distance by direct differences: no
// cancellation), rows[i, m + l] = y[i, l] for l < t; the chunk's rows are x and y (row-major), its
// output is `rows` × (m + t). Grid (column blocks, rows), one thread per entry.
extern "C" __global__ void km_normal_rows(double* out, const double* x, const double* c, const double* y, int rows, int m, int t, int d, int code, double a, double b) {
  const int i = blockIdx.y;
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int width = m + t;
  if (i >= rows || j >= width) return;
  double value;
  if (j < m) {
    double s = 0.0;
    for (int q = 0; q < d; q++) {
      const double diff = x[(kv_i64)i * d + q] - c[(kv_i64)j * d + q];
      s += diff * diff;
    }
    value = km_profile<double>(code, s, a, b);
  } else {
    value = y[(kv_i64)i * t + (j - m)];
  }
  out[(kv_i64)i * width + j] = value;
}

// g (width × width) = or += Aᵀ·A for the rows × width chunk A, upper-triangle tiles only (block
// (bj, bi) with bi ≤ bj; the host mirrors the rest). A block of 16 × 16 threads owns one
// KM_TILE × KM_TILE tile, 2 × 2 entries per thread, the chunk's rows staged KM_STEP at a time.
extern "C" __global__ void km_normal_gram(double* g, const double* a, int rows, int width, int add) {
  const int bi = blockIdx.y;
  const int bj = blockIdx.x;
  if (bi > bj) return;
  __shared__ double left[KM_STEP][KM_TILE];
  __shared__ double right[KM_STEP][KM_TILE];
  const int tx = threadIdx.x;
  const int ty = threadIdx.y;
  const int lane = ty * 16 + tx;
  const int i0 = bi * KM_TILE;
  const int j0 = bj * KM_TILE;
  double acc00 = 0.0, acc01 = 0.0, acc10 = 0.0, acc11 = 0.0;
  for (int r0 = 0; r0 < rows; r0 += KM_STEP) {
    __syncthreads();
    for (int e = lane; e < KM_STEP * KM_TILE; e += 256) {
      const int r = e / KM_TILE;
      const int col = e % KM_TILE;
      const bool inside = r0 + r < rows;
      left[r][col] = inside && i0 + col < width ? a[(kv_i64)(r0 + r) * width + i0 + col] : 0.0;
      right[r][col] = inside && j0 + col < width ? a[(kv_i64)(r0 + r) * width + j0 + col] : 0.0;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < KM_STEP; r++) {
      const double l0 = left[r][2 * ty];
      const double l1 = left[r][2 * ty + 1];
      const double q0 = right[r][2 * tx];
      const double q1 = right[r][2 * tx + 1];
      acc00 += l0 * q0;
      acc01 += l0 * q1;
      acc10 += l1 * q0;
      acc11 += l1 * q1;
    }
  }
  const int i = i0 + 2 * ty;
  const int j = j0 + 2 * tx;
  const double acc[2][2] = {{acc00, acc01}, {acc10, acc11}};
  for (int u = 0; u < 2; u++)
    for (int v = 0; v < 2; v++)
      if (i + u < width && j + v < width) {
        double* at = g + (kv_i64)(i + u) * width + j + v;
        *at = add ? *at + acc[u][v] : acc[u][v];
      }
}
