// A fresh WebAssembly memory costs the first touch of its pages: the operating system faults each
// one in and zeroes it, 0.5–4 ms per MiB on the VMs kvkit is measured on — often more than the
// work done in it (a Lanczos KPCA of 2000 points spent a quarter of its fit touching its 16 MB
// kernel matrix). Arenas whose owner disposes them (`SimdArena.dispose`) hand their memory back
// here, and the next arena of about that size takes it and zeroes it in place (≈ 0.02 ms per MiB),
// as a C allocator reuses freed heap instead of returning it to the system at once.

/** A kept memory: `buffer` as WebAssembly.Memory has it, whether it is shared (worker threads attach only to shared ones). */
export interface RecyclableMemory {
  readonly buffer: ArrayBufferLike;
}

interface Kept {
  memory: RecyclableMemory;
  shared: boolean;
}

/** glibc's largest trim threshold: what a C program's freed heap may keep resident by default. */
const DEFAULT_LIMIT_BYTES = 64 * 2 ** 20;
let limitBytes = DEFAULT_LIMIT_BYTES;
/** Oldest first. */
const kept: Kept[] = [];

/**
 * How many bytes of disposed arenas' memory kvkit keeps for reuse (default 64 MiB; 0 keeps none and
 * lets go of what is kept now; no argument restores the default). Kept memory stays resident:
 * `recycledArenaBytes` says how much there is.
 */
export function setArenaRecycling(maxBytes?: number): void {
  if (maxBytes !== undefined && !(Number.isFinite(maxBytes) && maxBytes >= 0)) throw new RangeError(`setArenaRecycling: maxBytes must be a finite number >= 0, got ${maxBytes}`);
  limitBytes = maxBytes ?? DEFAULT_LIMIT_BYTES;
  trimTo(limitBytes);
}

/** Bytes of WebAssembly memory kept for reuse now (resident, in no arena). */
export function recycledArenaBytes(): number {
  return kept.reduce((total, entry) => total + entry.memory.buffer.byteLength, 0);
}

/**
 * A kept memory of at least `bytes` and at most twice that (a much larger one stays for a larger
 * arena), shared or not as asked, the smallest that fits, with its old contents (the taker zeroes
 * what it uses). Undefined when none is kept.
 */
export function takeRecycledMemory(bytes: number, shared: boolean): RecyclableMemory | undefined {
  let best = -1;
  for (let i = 0; i < kept.length; i++) {
    const size = kept[i].memory.buffer.byteLength;
    if (kept[i].shared !== shared || size < bytes || size > 2 * bytes) continue;
    if (best < 0 || size < kept[best].memory.buffer.byteLength) best = i;
  }
  if (best < 0) return undefined;
  return kept.splice(best, 1)[0].memory;
}

/**
 * Keeps `memory` for a later arena (the oldest kept ones go first past the limit); false when it is
 * not kept (alone over the limit).
 */
export function recycleMemory(memory: RecyclableMemory, shared: boolean): boolean {
  if (memory.buffer.byteLength > limitBytes) return false;
  kept.push({ memory, shared });
  trimTo(limitBytes);
  return true;
}

function trimTo(bytes: number): void {
  while (kept.length > 0 && recycledArenaBytes() > bytes) kept.shift();
}
