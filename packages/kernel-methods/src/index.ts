// Points and validation
export { type PointsInput, asPoints } from './points.js';

// Kernels
export type { Kernel, KernelSpec, RadialKernel } from './kernels/kernel.js';
export { isRadialKernel, kernelBlock } from './kernels/kernel.js';
export { type RbfOptions, type MaternOptions, type ImqOptions, rbf, matern, imq } from './kernels/radial.js';
export { type LaplaceOptions, laplace } from './kernels/laplace.js';
export { type PolynomialOptions, linear, poly, cosine } from './kernels/dot-product.js';
export { type PrecomputedOptions, type PrecomputedKernel, precomputed } from './kernels/precomputed.js';
export { sumKernel, productMatern, powerKernel } from './kernels/combinations.js';
export { type MedianBandwidthOptions, medianBandwidth } from './kernels/bandwidth.js';
export { kernelFromJSON } from './kernels/from-json.js';
export { besselK, gamma as gammaFunction } from './kernels/special-functions.js';

// Lazy kernel matrices
export { type KernelMatrixOptions, KernelMatrix } from './operator/kernel-matrix.js';
export { centeredOperator } from './operator/centered.js';
export { type StoredKernelOptions, DEFAULT_MAX_MEMORY_BYTES } from './operator/stored-kernel.js';
export { setSimdKernels } from './wasm/simd-arena.js';

// Decomposition
export { type KpcaSolver, type KernelPCAOptions, type KernelPCAJSON, KernelPCA } from './decomposition/kernel-pca.js';
export { type DualKpcaLoss, type DualKpcaOptions, type DualKpcaResult, solveDualKpca } from './decomposition/dual-kpca.js';

// Solvers
export { type ConjugateGradientOptions, type ConjugateGradientResult, conjugateGradient } from './util/linalg.js';

// Approximation
export { type LandmarkSampling, type NystroemOptions, type NystroemJSON, Nystroem, ridgeLeverageScores } from './approximation/nystroem.js';
export { type RandomFourierFeaturesOptions, type RandomFourierFeaturesJSON, RandomFourierFeatures } from './approximation/random-features.js';

// Regression
export { type KrrSolver, type KernelRidgeOptions, type KernelRidgeJSON, KernelRidge } from './regression/kernel-ridge.js';

// Hypothesis tests
export { type TestResult, type NullSimulationOptions, monteCarloPValue } from './hypothesis/test-result.js';
export { type MmdTestOptions, mmdSquared, mmdTest } from './hypothesis/mmd.js';
export {
  type ScoreFunction,
  type KsdTestOptions,
  type PerturbationOptions,
  steinKernelMatrix,
  ksdSquared,
  ksdTest,
  perturbSample,
  perturbedKsdTest,
} from './hypothesis/ksd.js';

// Thinning and compression
export { kernelHalve } from './thinning/kernel-halving.js';
export { type SplitKernel, type KernelThinningOptions, type ThinningResult, kernelThinning, ktSwap, coresetMmd } from './thinning/kernel-thinning.js';
export { type Halve, type Thin, type CompressPlusPlusOptions, kernelHalving, kernelThinner, compress, compressPlusPlus } from './thinning/compress.js';

// Representation similarity
export {
  type KernelCkaOptions,
  type MinibatchCkaOptions,
  type DeconfoundedCkaOptions,
  linearCka,
  kernelCka,
  ckaFromGrams,
  unbiasedHsic,
  minibatchCka,
  deconfoundedCka,
  residualize,
} from './similarity/cka.js';
export {
  type CcaOptions,
  type CcaResult,
  type SvccaOptions,
  type SvccaResult,
  type StochasticCcaOptions,
  type StochasticCcaResult,
  cca,
  ccaTransform,
  svcca,
  stochasticCca,
} from './similarity/cca.js';

// Clustering
export { type KernelKMeansOptions, type KernelKMeansJSON, KernelKMeans } from './clustering/kernel-kmeans.js';
export { type ClusterTreeNode, type ClusterTree, explainClusters, clusterMedoids } from './clustering/cluster-tree.js';

// Density
export {
  type BandwidthRule,
  type KernelDensityOptions,
  type KernelDensityJSON,
  type ModeFindingOptions,
  type Mode,
  KernelDensity,
  findModes,
} from './density/kernel-density.js';

// Semi-supervised regression
export { type StkrOptions, SpectrallyTransformedKernelRegression } from './regression/stkr.js';

// Graph kernels
export { type GraphKernelName, type GraphKernelOptions, graphKernel } from './graph/graph-kernels.js';

// Embedding
export { type BarnesHutTsneOptions, type BarnesHutTsneResult, barnesHutTsne } from './embedding/barnes-hut-tsne.js';
export { type TsneOptions, tsne, trustworthiness } from './embedding/tsne.js';
