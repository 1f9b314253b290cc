import { type DenseSimdKernels, type ExtraModules, fusedMultiplyAddActive, SimdArena, simdKernelsEnabled } from './simd-arena.js';
import { simdThreadCount } from './simd-threads.js';

// Work areas up to this many float64 values (8 MiB) share one kept scratch arena, so a call does
// not pay for a fresh WebAssembly memory and instance (≈ 0.2 ms, more than a 48³ product); larger
// ones get their own.
export const SCRATCH_VALUES = 2 ** 20;
let scratch: SimdArena | null = null;
// The same in shared memory with the worker threads attached, for jobs worth splitting; created on
// first use (and its first touch and the workers' start paid once).
let threadedScratch: SimdArena | null | undefined;

/** A float64 area of at least `length` values: the shared scratch arena or a one-off one. */
function scratchArena(length: number): SimdArena | null {
  if (length > SCRATCH_VALUES) return SimdArena.create([length]);
  if (!simdKernelsEnabled()) return null;
  if (!current(scratch)) scratch = SimdArena.create([SCRATCH_VALUES]);
  return scratch;
}

/** Whether a kept arena still serves: it exists and its products fuse as `setFusedMultiplyAdd` now says. */
function current(arena: SimdArena<object> | null | undefined): boolean {
  return !!arena && arena.fused === fusedMultiplyAddActive();
}

/**
 * One float64 view of each length, each starting on a 16-byte boundary, in WebAssembly memory with
 * the dense kernels bound to it: in the shared scratch arena while they fit it, else a one-off
 * arena; null where SIMD is off or unavailable. The shared areas are reused by the next caller, so
 * their contents are only valid until the caller returns.
 */
export function scratchAreas(lengths: number[]): { kernels: DenseSimdKernels; areas: Float64Array[] } | null {
  const arena = scratchArena(lengths.reduce((total, length) => total + even(length), 0));
  return arena ? { kernels: arena.kernels, areas: carve(arena, lengths) } : null;
}

/**
 * `scratchAreas` in the kept threaded scratch arena (8 MiB of shared memory with the worker threads
 * attached; `arena.run` splits a job among them): null with one thread, where shared memory or SIMD
 * is unavailable, or when the lengths do not fit. Valid until the caller returns, like `scratchAreas`.
 */
export function threadedScratchAreas(lengths: number[]): { kernels: DenseSimdKernels; areas: Float64Array[]; arena: SimdArena } | null {
  if (!simdKernelsEnabled() || simdThreadCount() < 2) return null;
  if (lengths.reduce((total, length) => total + even(length), 0) > SCRATCH_VALUES) return null;
  if (threadedScratch && !current(threadedScratch)) {
    threadedScratch.release();
    threadedScratch = undefined;
  }
  if (threadedScratch === undefined) {
    const arena = SimdArena.create([SCRATCH_VALUES], undefined, { threads: true });
    threadedScratch = arena?.threads ? arena : null;
  }
  return threadedScratch ? { kernels: threadedScratch.kernels, areas: carve(threadedScratch, lengths), arena: threadedScratch } : null;
}

/**
 * Areas for a job worth splitting among the worker threads: `threadedScratchAreas` while the
 * lengths fit the kept arena, else a one-off arena in shared memory with the threads attached
 * (`owned`: call its `dispose` when done with the areas). Null with one thread, or where shared memory or SIMD is
 * unavailable: the caller then runs on its own thread.
 */
export function threadedAreas(lengths: number[]): { kernels: DenseSimdKernels; areas: Float64Array[]; arena: SimdArena; owned: SimdArena | null } | null {
  const kept = threadedScratchAreas(lengths);
  if (kept) return { ...kept, owned: null };
  if (!simdKernelsEnabled() || simdThreadCount() < 2) return null;
  const owned = SimdArena.create(lengths, undefined, { threads: true });
  if (!owned?.threads) {
    owned?.dispose();
    return null;
  }
  return { kernels: owned.kernels, areas: owned.arrays, arena: owned, owned };
}

/** An even count, so every area starts on a 16-byte boundary. */
function even(count: number): number {
  return count + (count % 2);
}

/** Consecutive views of the arena's one array, one per length. */
function carve(arena: SimdArena, lengths: number[]): Float64Array[] {
  let start = 0;
  return lengths.map((length) => {
    const view = arena.arrays[0].subarray(start, start + length);
    start += even(length);
    return view;
  });
}

/** One kept arena per extra module, or per list of modules (the same array each time: it is the key). */
const keptByModule = new Map<ExtraModules, SimdArena<object>>();

/**
 * A kept arena (one float64 array of at least `bytes`, 1 MiB at least) with `module`'s kernels bound
 * beside the dense ones, reused by every caller of that module; asked for more than it holds, it
 * is replaced by a larger one (views into the old one go stale). Null where SIMD is off or
 * unavailable. For kernels whose operands are copied in for each call (the CPU backend's f32 loops).
 */
export function keptModuleArena<Extra extends object>(module: ExtraModules, bytes: number): SimdArena<Extra> | null {
  if (!simdKernelsEnabled()) return null;
  const kept = keptByModule.get(module) as SimdArena<Extra> | undefined;
  if (kept && current(kept) && kept.arrays[0].byteLength >= bytes) return kept;
  const arena = SimdArena.create<Extra>([Math.ceil(Math.max(bytes, 2 ** 20) / 8)], module);
  if (arena) keptByModule.set(module, arena);
  return arena;
}

/** The views `keptModuleViews` made, by the function that made them, with the arena they view. */
const madeViews = new WeakMap<object, { arena: SimdArena<object>; views: unknown }>();

/**
 * `makeViews(arena)` for `keptModuleArena(module, bytes)`, made once per kept arena (again only when
 * a larger arena replaces it), so a caller that copies operands into fixed places of the arena on
 * every call does not rebuild its typed-array views each time. `makeViews` is the cache key: pass
 * the same function (a module-level one) on every call. Null where SIMD is off or unavailable.
 */
export function keptModuleViews<Extra extends object, V>(module: ExtraModules, bytes: number, makeViews: (arena: SimdArena<Extra>) => V): V | null {
  const arena = keptModuleArena<Extra>(module, bytes);
  if (!arena) return null;
  const made = madeViews.get(makeViews);
  if (made?.arena === arena) return made.views as V;
  const views = makeViews(arena);
  madeViews.set(makeViews, { arena, views });
  return views;
}
