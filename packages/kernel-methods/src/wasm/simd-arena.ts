import storedKernelWasm from './stored-kernel.wat';

/** The functions of stored-kernel.wat; every pointer is a byte address in the arena's memory. */
export interface StoredKernelExports {
  rowBlockProducts(xa: number, d: number, yt: number, ld: number, j0: number, j1: number, o0: number, o1: number, o2: number, o3: number): void;
  packedMatvec(a: number, n: number, v: number, out: number): void;
  gaussianFromProducts(row: number, norms: number, ni: number, j0: number, j1: number, gamma: number): void;
  rowBlockDots(a: number, m: number, b: number, out: number): void;
  rowBlockTransposedAxpy(a: number, m: number, c0: number, c1: number, c2: number, c3: number, out: number): void;
}

const PAGE_BYTES = 65536;
/** wasm32 addresses 4 GiB at most; above it (or where the engine refuses the memory) callers use their JavaScript loops. */
const MAX_PAGES = 65536;

/** The part of the WebAssembly JS API used here (the ES library types do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
  Instance: new (module: object, imports: object) => { readonly exports: object };
}

const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
let compiled: object | null | undefined;

/** The compiled module, or null where WebAssembly or its SIMD is unavailable. */
function storedKernelModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasm?.validate(storedKernelWasm) ? new wasm.Module(storedKernelWasm) : null;
    } catch {
      compiled = null; // e.g. a Content-Security-Policy without 'wasm-unsafe-eval'
    }
  }
  return compiled;
}

let enabled = true;

/**
 * Turns the WebAssembly SIMD loops off (false) or back on for arenas created afterwards: for
 * benchmarks that compare them with the JavaScript loops, and for environments that forbid
 * compiling WebAssembly. Results agree to float64 rounding either way.
 */
export function setSimdKernels(on: boolean): void {
  enabled = on;
}

/**
 * float64 arrays in one WebAssembly memory sized once for them, with the SIMD functions bound to
 * it. The memory never grows, so the views stay valid for the arena's life (growing would detach
 * every view). `create` returns null where SIMD is unavailable or the memory cannot be had.
 */
export class SimdArena {
  private constructor(
    readonly kernels: StoredKernelExports,
    readonly arrays: Float64Array[],
  ) {}

  /** An arena holding one zeroed float64 array of each length, or null (use the JavaScript loops). */
  static create(lengths: number[]): SimdArena | null {
    const module = enabled ? storedKernelModule() : null;
    if (!module || !wasm) return null;
    // Each array starts on a 16-byte boundary, so two-lane loads of aligned pairs stay aligned.
    const starts: number[] = [];
    let bytes = 0;
    for (const length of lengths) {
      starts.push(bytes);
      bytes += Math.ceil((length * 8) / 16) * 16;
    }
    const pages = Math.max(1, Math.ceil(bytes / PAGE_BYTES));
    if (pages > MAX_PAGES) return null;
    let memory: { readonly buffer: ArrayBuffer };
    try {
      memory = new wasm.Memory({ initial: pages });
    } catch {
      return null; // out of address space or memory: the JavaScript path needs the same bytes, as plain arrays
    }
    const instance = new wasm.Instance(module, { env: { memory } });
    return new SimdArena(
      instance.exports as unknown as StoredKernelExports,
      lengths.map((length, i) => new Float64Array(memory.buffer, starts[i], length)),
    );
  }
}

/** Byte address of element `index` of an arena array. */
export function addressOf(array: Float64Array, index = 0): number {
  return array.byteOffset + index * 8;
}
