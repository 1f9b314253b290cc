import { InvalidConfigError, IndexOutOfRangeError, type KvkitError } from '../errors.js';
import type { WebGpuBackend, WebGpuStorage } from './backend.js';
import type { TensorBindingSpec } from './wgsl/bindings.js';

/**
 * Bad input that only a kernel can see (an index out of range on the device, a code wider than its
 * bit width) cannot throw where the op is called: the call only records GPU work. Such kernels bump
 * a counter in the backend's status buffer; every read-back compares the counters with the last
 * values seen and throws the matching typed error, so misuse surfaces at the next `read()` or
 * `synchronize()` instead of passing silently.
 *
 * A kernel binds the status buffer as `words` (name `status`) and runs `status_report(K)` with its
 * counter's index K; several invocations may report at once (a lost increment still leaves the
 * counter changed).
 */
export const STATUS_WORDS = 16;

export const STATUS_WGSL = `fn status_report(k: u32) { status[k] = status[k] + 1u; }`;

export class StatusCounters {
  private readonly seen = new Uint32Array(STATUS_WORDS);
  private readonly errors: (() => KvkitError)[] = [];

  constructor() {
    this.define(() => new IndexOutOfRangeError('webgpu: an earlier gather read an index outside its axis; the affected output slices hold zeros'));
    this.define(() => new IndexOutOfRangeError('webgpu: an earlier scatter had an index outside its axis; those updates were dropped'));
    this.define(() => new InvalidConfigError('webgpu: an earlier packBits got a code that does not fit its bit width; the stored code was masked'));
  }

  /** Claims a counter whose change means `makeError()`; returns its index K for `status_report(K)`. */
  define(makeError: () => KvkitError): number {
    if (this.errors.length >= STATUS_WORDS) throw new InvalidConfigError(`webgpu: at most ${STATUS_WORDS} status counters can be defined`);
    this.errors.push(makeError);
    return this.errors.length - 1;
  }

  /** The error for the first counter that moved since the last check (and remembers the new values). */
  check(current: Uint32Array): KvkitError | undefined {
    let error: KvkitError | undefined;
    for (let i = 0; i < this.errors.length; i++) {
      if (current[i] !== this.seen[i]) {
        this.seen[i] = current[i];
        error ??= this.errors[i]();
      }
    }
    return error;
  }
}

/** Counter indices of tensor-core's own kernels. */
export const STATUS = { gatherIndex: 0, scatterIndex: 1, packCode: 2 } as const;

/** The status buffer as an extra binding of `runMap` (named `status`, as STATUS_WGSL expects). */
export function statusBinding(backend: WebGpuBackend): { spec: TensorBindingSpec; buffer: WebGpuStorage } {
  return { spec: { name: 'status', dtype: 'u32', access: 'words' }, buffer: backend.statusStorage };
}
