export { addressOf, type DenseSimdKernels, type ExtraModules, fusedMultiplyAddActive, SimdArena, setFusedMultiplyAdd, setSimdKernels } from './simd-arena.js';
export { recycledArenaBytes, setArenaRecycling } from './recycled-memory.js';
export { type SimdThreads, setSimdThreads, simdThreadCount, startSimdThreads } from './simd-threads.js';
export { balancedRanges } from './work-split.js';
export { type RowBlocksJob, runRowBlocks } from './row-blocks.js';
export { keptModuleArena, keptModuleViews } from './scratch-arena.js';
export { stageFloat32 } from './float32-staging.js';
