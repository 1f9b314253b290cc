// Estimators fitted end to end with a device engine (fitAsync: the lazy operator's products on
// WebGPU / CUDA in f32, the solvers on the host in float64) against float64 host fits: cases shared
// by webgpu-engine.test.ts, cuda-engine.test.ts and tooling/gpu/kernel-methods-check.ts.
import { relativeError } from '@kvkit/tensor-core/testing';
import { type Matrix, matmulMatrix } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { type Kernel, KernelPCA, KernelRidge, Nystroem, rbf } from '../src/index.js';
import { deviceProfileOn } from '../src/operator/device-modules.js';
import { deviceNormalEquations, webGpuNormalRows } from '../src/operator/device-nystroem-normal.js';
import { type DeviceEngineCase, uniformMatrix } from './device-engine-cases.js';

// f32 products perturb the solved systems by ~1e-7 relative; CG stops at 1e-7 relative residual, and
// K + αI (rbf, α = 0.5, n = 45) has condition number < 100. Over 60 seeds on the CPU backend (the same
// f32 tile path) the worst errors were 2e-6 (CG), 4e-6 (FALKON predictions), 2e-8 (KPCA eigenvalues).
const SOLVE_TOLERANCE = 1e-4;
// f32 cross products k(x, ·) times float64 coefficients (Nyström's K_CC^{−1/2}, KPCA's V/√λ): relative
// errors ~1e-7 amplified by the coefficients' size against the result's. Over 600 seeds on the CPU
// backend (the same f32 tile path) the worst were 1.4e-6 (randomized KPCA), 8e-8 (KPCA projections),
// 1e-6 (uniform Nyström), 4e-6 (ridge-leverage Nyström, whose landmarks always matched the host's).
const PROJECTION_TOLERANCE = 1e-4;

/** φ(x)·φ(y)ᵀ: the kernel approximation, the quantity Nyström features are for. */
function gram(features: Matrix): Float64Array {
  return matmulMatrix(features, features, { transposeB: true }).data;
}

export function deviceEstimatorCases(): DeviceEngineCase[] {
  const kernel = rbf({ gamma: 0.4 });
  return [
    {
      name: "KernelRidge 'cg' fitAsync/predictAsync on the device = the Cholesky solve in float64 (n = 45, tiles of 16)",
      tolerance: SOLVE_TOLERANCE,
      async run(backend, rng) {
        const x = uniformMatrix(45, 4, rng);
        const y = uniformMatrix(45, 1, rng).data;
        const test = uniformMatrix(11, 4, rng);
        const device = await new KernelRidge({ kernel, alpha: 0.5, solver: 'cg', tolerance: 1e-7, tileSize: 16, engine: backend }).fitAsync(x, y);
        const reference = new KernelRidge({ kernel, alpha: 0.5, solver: 'cholesky' }).fit(x, y);
        return Math.max(
          relativeError(device.dualCoef.data, reference.dualCoef.data),
          relativeError((await device.predictAsync(test)).data, reference.predict(test).data),
        );
      },
    },
    {
      name: "KernelRidge 'nystroem-pcg' (FALKON) fitAsync on the device = the same fit on the host (n = 50, m = 12, tiles of 16)",
      tolerance: SOLVE_TOLERANCE,
      async run(backend, rng) {
        const x = uniformMatrix(50, 4, rng);
        const y = uniformMatrix(50, 1, rng).data;
        const test = uniformMatrix(9, 4, rng);
        const options = { kernel, alpha: 0.5, solver: 'nystroem-pcg', nCenters: 12, seed: 3, tolerance: 1e-7, tileSize: 16 } as const;
        const device = await new KernelRidge({ ...options, engine: backend }).fitAsync(x, y);
        const reference = new KernelRidge(options).fit(x, y);
        // Predictions only: β itself is ill-determined along K_mm's near-null directions (up to ~3e-4
        // apart over 200 seeds with f32 products) while the fitted function agrees to < 2e-5.
        return relativeError((await device.predictAsync(test)).data, reference.predict(test).data);
      },
    },
    {
      name: 'the Nyström normal equations K_mnK_nm, K_mnY summed on the device without loss (17 chunks of rows): CUDA = float64 loops, WebGPU = the float64 Gram of its own f32 rows',
      // Plain f32 sums are ~1e-7 off (dropping WebGPU's lo half: 7e-8); float64 sums of 203 terms ~1e-16.
      tolerance: 1e-12,
      async run(backend, rng) {
        const nystroemKernel = rbf({ gamma: 0.7 });
        const x = uniformMatrix(203, 3, rng);
        const centers = uniformMatrix(37, 3, rng);
        const y = uniformMatrix(203, 3, rng);
        const profile = deviceProfileOn(nystroemKernel, backend);
        if (!profile) throw new Error(`no normal equations on ${backend.name}`);
        // 40 columns: chunks of 12 rows (500 values), 17 of them; tiles past the edge; rows not a multiple of the step.
        const { normal, rhs } = await deviceNormalEquations(backend, profile, x, centers, y, 500);
        const rows = backend.name === 'webgpu' ? await webGpuNormalRows(backend as WebGpuBackend, profile, x, centers, y) : hostNormalRows(nystroemKernel, x, centers, y);
        const [expectedNormal, expectedRhs] = gramBlocks(rows, 203, 37, 3);
        return Math.max(relativeError(normal.data, expectedNormal), relativeError(rhs.data, expectedRhs));
      },
    },
    {
      name: "KernelRidge 'nystroem' (direct) fitAsync on the device = the same fit on the host (n = 70, m = 20, 2 targets; normal equations on the device)",
      // CUDA sums in float64: the coefficients agree with the host's to rounding. WebGPU sums f32
      // kernel values exactly: the coefficients move by the f32 rounding of K_nm, amplified by the
      // system's condition, so there the predictions (through the device's f32 cross product) are compared.
      tolerance: SOLVE_TOLERANCE,
      async run(backend, rng) {
        const x = uniformMatrix(70, 4, rng);
        const y = uniformMatrix(70, 2, rng);
        const test = uniformMatrix(9, 4, rng);
        const options = { kernel, alpha: 0.5, solver: 'nystroem', nCenters: 20, seed: 4 } as const;
        const device = await new KernelRidge({ ...options, engine: backend }).fitAsync(x, y);
        const reference = new KernelRidge(options).fit(x, y);
        const coefficients = relativeError(device.dualCoef.data, reference.dualCoef.data);
        if (backend.name === 'cuda' && !(coefficients <= 1e-9)) throw new Error(`coefficients ${coefficients} apart (float64 on both sides: expected ≤ 1e-9)`);
        return relativeError((await device.predictAsync(test)).data, reference.predict(test).data);
      },
    },
    {
      name: 'KernelPCA fitAsync (Lanczos on the lazy centered operator) on the device = the exact eigendecomposition in float64 (n = 40, 4 comp.)',
      tolerance: SOLVE_TOLERANCE,
      async run(backend, rng) {
        const x = uniformMatrix(40, 3, rng);
        const device = await new KernelPCA({ kernel, nComponents: 4, tileSize: 16, engine: backend }).fitAsync(x);
        const reference = new KernelPCA({ kernel, nComponents: 4, solver: 'exact' }).fit(x);
        return relativeError(device.eigenvalues as Float64Array, reference.eigenvalues as Float64Array);
      },
    },
    {
      name: "KernelPCA fitAsync 'randomized' on the device = the host's randomized fit with the same seed (n = 40, 4 comp.), and transformAsync",
      tolerance: PROJECTION_TOLERANCE,
      async run(backend, rng) {
        const x = uniformMatrix(40, 3, rng);
        const test = uniformMatrix(7, 3, rng);
        const options = { kernel, nComponents: 4, solver: 'randomized', seed: 5, tileSize: 16 } as const;
        const device = await new KernelPCA({ ...options, engine: backend }).fitAsync(x);
        const reference = new KernelPCA(options).fit(x);
        return Math.max(
          relativeError(device.eigenvalues as Float64Array, reference.eigenvalues as Float64Array),
          relativeError((await device.transformAsync(test)).data, reference.transform(test).data),
        );
      },
    },
    {
      name: 'KernelPCA transformAsync on the device = the float64 projection of the same fitted model (n = 45, 3 comp., tiles of 16)',
      tolerance: PROJECTION_TOLERANCE,
      async run(backend, rng) {
        const x = uniformMatrix(45, 3, rng);
        const test = uniformMatrix(19, 3, rng);
        const device = new KernelPCA({ kernel, nComponents: 3, solver: 'exact', tileSize: 16, engine: backend }).fit(x);
        const host = KernelPCA.load(device.toJSON());
        return relativeError((await device.transformAsync(test)).data, host.transform(test).data);
      },
    },
    {
      name: 'Nystroem fitAsync/transformAsync (uniform, m = 12) on the device = the host features; φφᵀ agrees (n = 50, tiles of 16)',
      tolerance: PROJECTION_TOLERANCE,
      async run(backend, rng) {
        const x = uniformMatrix(50, 4, rng);
        const test = uniformMatrix(13, 4, rng);
        const options = { kernel, nComponents: 12, seed: 2, tileSize: 16 } as const;
        const device = await new Nystroem({ ...options, engine: backend }).fitAsync(x);
        const reference = new Nystroem(options).fit(x);
        if (!sameIndices(device.componentIndices, reference.componentIndices)) return Infinity;
        const features = await device.transformAsync(test);
        return Math.max(relativeError(features.data, reference.transform(test).data), relativeError(gram(features), gram(reference.transform(test))));
      },
    },
    {
      name: "Nystroem fitAsync 'ridge-leverage' on the device (K(x, S)·L⁻ᵀ there) picks the host's landmarks (n = 80, m = 10, λ = 0.3)",
      tolerance: PROJECTION_TOLERANCE,
      async run(backend, rng) {
        const x = uniformMatrix(80, 3, rng);
        const options = { kernel, nComponents: 10, sampling: 'ridge-leverage', ridge: 0.3, seed: rng.int(1 << 30), tileSize: 16 } as const;
        const device = await new Nystroem({ ...options, engine: backend }).fitAsync(x);
        const reference = new Nystroem(options).fit(x);
        if (!sameIndices(device.componentIndices, reference.componentIndices)) return Infinity;
        return relativeError((await device.transformAsync(x)).data, reference.transform(x).data);
      },
    },
  ];
}

function sameIndices(a: Int32Array | undefined, b: Int32Array | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((v, i) => v === b[i]);
}

/** [K_nm | Y] (n × (m + t), row-major) in float64 on the host. */
function hostNormalRows(kernel: Kernel, x: Matrix, centers: Matrix, y: Matrix): Float64Array {
  const [n, m, t] = [x.rows, centers.rows, y.cols];
  const k = new Float64Array(n * m);
  kernel.evaluate(x, centers, k, 0, n, 0, m);
  const rows = new Float64Array(n * (m + t));
  for (let r = 0; r < n; r++) {
    rows.set(k.subarray(r * m, (r + 1) * m), r * (m + t));
    rows.set(y.data.subarray(r * t, (r + 1) * t), r * (m + t) + m);
  }
  return rows;
}

/** K_mnK_nm and K_mnY from the rows [K_nm | Y] by direct float64 loops. */
function gramBlocks(rows: ArrayLike<number>, n: number, m: number, t: number): [Float64Array, Float64Array] {
  const width = m + t;
  const normal = new Float64Array(m * m);
  const rhs = new Float64Array(m * t);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < width; j++) {
      let sum = 0;
      for (let r = 0; r < n; r++) sum += rows[r * width + i] * rows[r * width + j];
      if (j < m) normal[i * m + j] = sum;
      else rhs[i * t + j - m] = sum;
    }
  return [normal, rhs];
}
