// Cases shared by the WebGPU and CUDA-emulator suites (webgpu-engine.test.ts, cuda-engine.test.ts)
// and tooling/gpu/kernel-methods-check.ts: a KernelMatrix whose tiles are built on a device backend
// (f32) against the float64 host engine, for every kernel with a tensor formula, symmetric and
// rectangular, with n not a multiple of the tile size.
import { type Backend, type Matrix, type Rng } from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';
import type { Kernel } from '../src/kernels/kernel.js';
import { cosine, imq, KernelMatrix, laplace, linear, matern, poly, rbf, sumKernel } from '../src/index.js';

export interface DeviceEngineCase {
  name: string;
  /** Relative error allowed (f32 tiles, float64 reference). */
  tolerance: number;
  /** The largest relative error of the device products against the host ones. */
  run(backend: Backend, rng: Rng): Promise<number>;
}

/** The kernels with a tensor formula (`tensorBlock`), scaled for unit-variance inputs in 5 dimensions. */
export function tensorKernels(): Kernel[] {
  return [
    rbf({ gamma: 0.3 }),
    matern({ nu: 0.5, lengthScale: 1.5 }),
    matern({ nu: 1.5, lengthScale: 1.5 }),
    matern({ nu: 2.5, lengthScale: 1.5 }),
    imq({ c: 1, beta: 0.5 }),
    laplace({ gamma: 0.2 }),
    linear(),
    poly({ degree: 3, gamma: 0.2, coef0: 1 }),
    cosine(),
    sumKernel([rbf({ gamma: 0.3 }), laplace({ gamma: 0.2 })], [0.7, 0.3]),
  ];
}

export function uniformMatrix(rows: number, cols: number, rng: Rng, low = -1, high = 1): Matrix {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * rng.uniform();
  return { rows, cols, data };
}

/** The shapes: symmetric n = 37 with 16-row tiles (a 5-row edge tile), rectangular 29 × 23 with 8-row tiles. */
const SHAPES = [
  { label: 'symmetric 37×37, tiles of 16', rows: 37, cols: undefined, tileSize: 16 },
  { label: 'rectangular 29×23, tiles of 8', rows: 29, cols: 23, tileSize: 8 },
] as const;

export function deviceEngineCases(): DeviceEngineCase[] {
  const cases: DeviceEngineCase[] = [];
  for (const kernel of tensorKernels()) {
    for (const shape of SHAPES) {
      cases.push({
        name: `${kernel.name} ${JSON.stringify(kernel.params)}: ${shape.label}: K·V, K·1, Kᵀ·V, Kᵀ(K·V) and blocks`,
        tolerance: 1e-5,
        async run(backend, rng) {
          const d = 5;
          const x = uniformMatrix(shape.rows, d, rng);
          const y = shape.cols === undefined ? undefined : uniformMatrix(shape.cols, d, rng);
          const cols = shape.cols ?? shape.rows;
          // Positive right-hand sides: the products are well conditioned (no cancellation to noise).
          const v = uniformMatrix(cols, 3, rng, 0.5, 1.5);
          const w = uniformMatrix(shape.rows, 2, rng, 0.5, 1.5);
          const host = new KernelMatrix(kernel, x, y, { tileSize: shape.tileSize });
          const device = new KernelMatrix(kernel, x, y, { tileSize: shape.tileSize, engine: backend });
          try {
            const errors = [
              relativeError((await device.multiplyAsync(v)).data, host.multiply(v).data),
              relativeError(await device.rowSumsAsync(), host.rowSums()),
              relativeError((await device.multiplyTransposedAsync(w)).data, host.multiplyTransposed(w).data),
              relativeError((await device.multiplyNormalAsync(v)).data, host.multiplyTransposed(host.multiply(v)).data),
              // Blocks are evaluated on the host whatever the engine: exactly the host's values.
              relativeError(device.block(3, 20, 2, 17).data, host.block(3, 20, 2, 17).data) === 0 ? 0 : Infinity,
            ];
            return Math.max(...errors);
          } finally {
            device.dispose();
          }
        },
      });
    }
  }
  // The fused radial product (CUDA / WebGPU) splits y into chunks of 1024 rows and V into groups of
  // 8 columns: a product over more than one chunk and group, with a rectangular operator's Kᵀ·W too.
  for (const kernel of [rbf({ gamma: 0.2 }), matern({ nu: 1.5, lengthScale: 2 })]) {
    cases.push({
      name: `${kernel.name} ${JSON.stringify(kernel.params)}: 150×1100 (two chunks of y), K·V with 11 columns, Kᵀ·W and Kᵀ(K·V)`,
      tolerance: 1e-5,
      async run(backend, rng) {
        const x = uniformMatrix(150, 3, rng);
        const y = uniformMatrix(1100, 3, rng);
        const v = uniformMatrix(1100, 11, rng, 0.5, 1.5);
        const w = uniformMatrix(150, 2, rng, 0.5, 1.5);
        const host = new KernelMatrix(kernel, x, y, { tileSize: 64 });
        const device = new KernelMatrix(kernel, x, y, { tileSize: 64, engine: backend });
        try {
          return Math.max(
            relativeError((await device.multiplyAsync(v)).data, host.multiply(v).data),
            relativeError((await device.multiplyTransposedAsync(w)).data, host.multiplyTransposed(w).data),
            relativeError((await device.multiplyNormalAsync(v)).data, host.multiplyTransposed(host.multiply(v)).data),
          );
        } finally {
          device.dispose();
        }
      },
    });
  }
  return cases;
}
