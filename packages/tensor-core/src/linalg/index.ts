export { type LinearOperator, type Matrix, matrix, matrixFromTensor } from './matrix.js';
export { matmulMatrix, transposeMatrix, identityMatrix, operatorFromMatrix } from './matrix-ops.js';
export { type EighOptions, type EighResult, eigh, eigvalsh } from './eigh.js';
export { type SvdResult, svd } from './svd.js';
export { type AsyncLinearOperator, type RandomizedSvdOptions, randomizedSvd, randomizedSvdAsync } from './randomized-svd.js';
export { type CholeskyOptions, cholesky, choleskySolve } from './cholesky.js';
export { type TriangularSolveOptions, solveTriangular } from './triangular.js';
export { triangularGram } from './triangular-gram.js';
export { type QrResult, qr } from './qr.js';
