export { addressOf, type DenseSimdKernels, SimdArena, setSimdKernels } from './simd-arena.js';
