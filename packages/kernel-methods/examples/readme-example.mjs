import { createRng, matrix } from '@kvkit/tensor-core';
import { KernelPCA, KernelRidge, KernelMatrix, kernelThinning, medianBandwidth, mmdTest, rbf } from '@kvkit/kernel-methods';

const rng = createRng(1);
const x = matrix(400, 3, Array.from({ length: 1200 }, () => rng.normal()));
const y = Float64Array.from({ length: 400 }, (_, i) => Math.sin(x.data[3 * i]) + 0.1 * rng.normal());

// A kernel is a value; the bandwidth from the median heuristic.
const kernel = rbf({ bandwidth: medianBandwidth(x) });

// Lazy kernel matrix: products, row sums, diagonal and blocks, tile by tile.
const K = new KernelMatrix(kernel, x, undefined, { tileSize: 128 });
console.log(K.rowSums().slice(0, 3), K.block(0, 2, 0, 2));

// Kernel PCA (randomized solver on the lazy centered operator) and kernel ridge regression.
const kpca = new KernelPCA({ kernel, nComponents: 2, solver: 'randomized' });
const embedding = kpca.fitTransform(x);
const krr = new KernelRidge({ kernel, alpha: 0.1, solver: 'nystroem-pcg', nCenters: 100 }).fit(x, y);
console.log(embedding.rows, krr.predict(x).data.slice(0, 3));

// A two-sample test returns a result object with separate seeds for statistic and null.
const shifted = matrix(100, 3, Array.from({ length: 300 }, () => rng.normal() + 0.5));
const test = mmdTest(matrix(100, 3, x.data.slice(0, 300)), shifted, { kernel, nullSamples: 200, nullSeed: 7 });
console.log(test.statistic, test.pValue, test.rejected);

// Kernel thinning: √n points whose MMD to the sample beats i.i.d. subsampling.
const { indices, mmd } = kernelThinning(matrix(256, 3, x.data.slice(0, 768)), { kernel, split: 'plus', seed: 3 });
console.log(indices.length, mmd);

// Every estimator serializes: KernelPCA.load(JSON.parse(JSON.stringify(kpca.toJSON()))).
